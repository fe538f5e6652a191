// Package fleetapi is the voice fleet's HTTP contract, defined once for every
// side that speaks it: the worker (callslot), the daemon (supervisor), the
// operator CLI (cmd/voxfleet), the Backend (api) and the Dialler.
//
// It holds the route paths, the request and response bodies of every worker
// route with their validation, the worker's GET /health body and its state
// names, the daemon's GET /health/fleet body and its slot states, the
// {"error": …} body every service answers with, and a small Client that
// speaks to a worker or a daemon over an http(s) URL or a Unix socket,
// signing each request with a service token (svcauth).
//
// fleetapi imports the standard library and svcauth only: it must never
// import callslot, supervisor, control, api or any other package of ours, so
// that every side can import it.
package fleetapi
