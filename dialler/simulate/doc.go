// Package simulate is a world for the Dialler to dial into without a
// carrier, LiveKit or a fleet: a Placer whose calls are answered, ring out,
// are busy or fail with the SIP statuses a carrier would send, and an
// Attacher and Capacity backed by a pool of simulated workers that stay
// busy for a log-normal handle time. voxdialler uses it with
// DIALLER_PLACER=simulate (development, tests); a Script decides outcomes
// exactly where a test needs them.
//
// simulate imports only dialler.
package simulate
