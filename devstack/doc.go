// Package devstack runs the whole platform on one machine for development:
// the MongoDB-wire server, Redis, MinIO, livekit-server (when installed),
// voxbridge bootstrapped with a development organisation, a voxfleet behind
// one nginx serving the shipped fleet and API sites adapted to loopback, and
// voxdialler (when built). Secrets are generated once into a git-ignored
// directory (.dev/secrets.env); data, logs and the running stack's state
// (stack.json, read by `voxdev status`) live beside them.
//
// Parts start in dependency order, each waited for until healthy; the stack
// runs until its context ends or a part exits, then every process it
// started is stopped, the last started first, each in its own process group
// so that no child is left behind. It is driven by cmd/voxdev (`make dev`).
//
// devstack imports deploy (the shipped sites) and upstream (the empty
// upstream file); it must never import supervisor, callslot or api.
package devstack
