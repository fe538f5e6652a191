// Package fleetpoll keeps the capacity of every registered fleet host in
// Redis and selects a host with free call slots.
//
// A Poller reads the enabled fleets from MongoDB on every tick (so a new URL
// is picked up without a restart), GETs each host's /health/fleet in
// parallel, and stores what it read in Redis with a short expiry: a host that
// fails or stops being polled stops being selected. Choose is the pure
// selection rule.
//
// fleetpoll imports api/store only; it must never import supervisor,
// callslot or upstream (it speaks to fleets only over HTTP).
package fleetpoll
