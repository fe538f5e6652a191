// Package fleets connects the Dialler to the voice fleets through the
// Backend: Capacity reads the free and busy workers the Backend last polled
// (GET /runtime/fleets/capacity), and Attacher hands an answered call to a
// worker of the host the Backend selects (GET /runtime/fleets/select, then
// POST /attach with a token scoped to that host). nginx retries a busy
// worker within the host; a host that is full as a whole answers 429, and
// the next host is tried.
//
// fleets imports only dialler, fleetapi, runtimeapi and runtimeclient.
package fleets
