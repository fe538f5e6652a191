// Package svcauth issues and verifies the short-lived service tokens that the
// Backend, the fleet and the Dialler use to call one another.
//
// A service token is an HS256 JWT signed with VOX_SERVICE_SECRET and scoped to
// one audience ("fleet:<fleet id>" for the worker routes of one fleet host,
// see FleetAudience; "runtime" for the Backend's /runtime API). Verification
// accepts HS256 only, requires an expiry, and rejects any other audience, so
// a token minted for one service, or for one fleet host, cannot be replayed
// against another.
//
// svcauth imports nothing from this module; every service may import it.
package svcauth
