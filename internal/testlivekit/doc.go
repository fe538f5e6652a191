// Package testlivekit runs a real livekit-server for tests, pinned to
// loopback by a config file, with a fresh Redis of its own (internal/testredis)
// so that the SIP API is on; it mints tokens, and stands in for the SIP
// service (livekit-sip) on the server's Redis bus: outbound calls become a
// scripted phone joining the room as a SIP participant, inbound calls ask the
// server's own dispatch rules for their room.
//
// It is imported only by tests and benchmarks. It imports nothing from this
// module but internal/testenv and internal/testredis.
package testlivekit
