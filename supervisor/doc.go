// Package supervisor is the voxfleet daemon: it keeps N single-call worker
// processes running on Unix sockets, renders the nginx upstream from the live
// set, answers /health/fleet and /metrics, and takes commands from the
// voxfleet CLI over the control socket.
//
// One goroutine (the loop) owns the slot table; everything else — process
// waiters, lifeline readers, probes, control and HTTP handlers — sends it
// closures through a channel and never touches a slot directly.
//
// The daemon binds each worker's socket itself and hands the listening file
// descriptor to the worker, keeping a copy. A worker that dies is replaced on
// the same listener, so connections that arrive meanwhile wait in the backlog
// instead of failing. A worker being replaced gets a fresh socket that is
// renamed over the old path once the replacement is ready, so capacity never
// drops and nginx never needs a reload for a restart.
//
// supervisor must not import callslot (the worker runs as a separate
// process) or api.
package supervisor
