// Package testredis runs a real redis-server for tests on a free loopback
// port, without persistence, and can stop and start it again on the same port
// for outage tests.
//
// It is imported only by tests and imports nothing from this module but
// internal/testenv.
package testredis
