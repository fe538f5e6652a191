// Package dialler is voxdialler's engine: every tick the leader (see
// dialler/leader) reads the running campaigns, keeps those inside their
// calling window (dialler/compliance), paces each one (pacing), splits the
// pool's free workers between them (dialler/fairshare), leases contacts
// atomically in MongoDB (store), places each call through a Placer and, on
// answer, hands it to a fleet worker through an Attacher. Every attempt
// leaves a call record; a lease that expires is recovered only after
// checking that its attempt did not go live.
//
// Placement is behind interfaces so that the engine runs the same against
// LiveKit and the fleets or against the simulated world of
// dialler/simulate.
//
// dialler must not import api, supervisor, callslot or upstream.
package dialler
