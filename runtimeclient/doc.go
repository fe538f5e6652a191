// Package runtimeclient is the fleet's client of the Backend's runtime API
// (package runtimeapi): the agent's configuration by id or by called number,
// and call records. Every request carries a fresh service token of audience
// "runtime" (svcauth), has a per-attempt timeout, and is retried with
// capped, jittered backoff on a network error or a 5xx answer — never on a
// 4xx, which the caller gets at once as an *Error.
//
// AgentCache keeps the last configuration seen of each agent on the host's
// disk (atomic writes), and Agents reads through it: when the Backend cannot
// be reached, a call starts with the last known configuration instead of
// failing.
//
// CallSink drains a spool of call records into the Backend; AttachRecording
// tells it where a call's recording was uploaded.
//
// runtimeclient imports runtimeapi, fleetapi (the error body), spool and
// svcauth only, of this module.
package runtimeclient
