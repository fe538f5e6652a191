// Package fleetpoll keeps the capacity of every registered fleet host in
// Redis and selects a host with free call slots.
//
// A Poller reads the enabled fleets from MongoDB on every tick (so a new URL
// is picked up without a restart), GETs each host's /health/fleet in
// parallel, and stores what it read in Redis with a short expiry: a host that
// fails or stops being polled stops being selected. Choose is the pure
// selection rule.
//
// Fleets an organisation registers are polled through a client that follows
// no redirect and, at connect time (after DNS resolution, so rebinding does
// not help), refuses loopback, private, link-local, metadata and other
// internal addresses unless the operator allowed them (AddressPolicy). What
// went wrong is logged; the organisation sees only a generic reason.
// Platform fleets (Options.Platform, OrgID "") come from configuration, serve
// every organisation and are not restricted.
//
// fleetpoll imports store only; it must never import supervisor,
// callslot or upstream (it speaks to fleets only over HTTP).
package fleetpoll
