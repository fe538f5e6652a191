// Package lifeline is the private channel between the voxfleet daemon and each
// worker it spawns: one Unix socketpair per worker, inherited as a file
// descriptor.
//
// It carries two things. First, parent death: when the daemon dies for any
// reason (kill -9 included) the kernel closes its end, the worker reads EOF
// and drains — it finishes the call in progress, takes no new one, and exits.
// Second, events: the worker reports readiness and each call's start and end
// as newline-delimited JSON, so the daemon knows which worker is in a call
// without polling.
//
// lifeline imports nothing from this module; both callslot and supervisor
// import it.
package lifeline
