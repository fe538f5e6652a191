// Package runtimeapi is the one definition of the Backend's runtime
// contract, the part of voxbridge's HTTP API that services (fleet workers,
// the daemon, the Dialler) call with a service token of audience "runtime":
//
//   - GET /runtime/agents/{id} and GET /runtime/agents/by-number/{e164}
//     answer an Agent: the configuration a worker runs a call with;
//   - PUT /runtime/calls/{call_id} takes a CallRecord: the state of one call,
//     written as often as the call changes (idempotent; a call's status only
//     moves forward, see StatusRank; transcript entries are appended once
//     each, by their Seq);
//   - GET /runtime/fleets/select answers a FleetChoice.
//
// The Backend's storage models (package store) embed these types, and the
// Backend's handlers decode and validate them with Validate: there is no
// second definition of any of them.
//
// runtimeapi imports only the standard library.
package runtimeapi
