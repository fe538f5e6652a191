// Package callslot is one voice fleet worker: an HTTP server on a Unix
// socket (handed to it by the voxfleet daemon) that carries exactly one call
// at a time. It admits a call atomically, refuses others with 429 while busy
// or draining, runs the call through an agent.Session, and reports readiness
// and each call's start and end to the daemon over its lifeline.
//
// Every call, whatever its carrier, is a call (call.go: slot generation,
// record, end cause, maximum duration, stall watcher, lifeline events)
// carried by a Leg: a carrier's media stream (stream.go: one leg, the
// carrier's protocol from package carrier) or a LiveKit room (RoomMedia). Route bodies and /health are fleetapi's.
//
// Routes: GET /health (no auth); GET /ws/twilio, /ws/exotel, /ws/plivo,
// /ws/telnyx, /ws/vonage (carrier media streams);
// POST /attach, /livekit/dialout, /livekit/widget, /livekit/dispatch. Every
// route but /health needs a service token for this fleet host's audience
// ("fleet:" and Config.FleetID, see svcauth.FleetAudience).
//
// callslot must never import supervisor, upstream or api: a worker knows
// nothing of the daemon beyond the lifeline.
package callslot
