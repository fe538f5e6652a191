// Package testnginx starts a real nginx for tests: its own master process
// under a short temporary prefix, listening on a free loopback port, with a
// site given as text, stopped when the test ends.
//
// It is imported only by tests. It must not import supervisor, callslot or
// api: it knows nginx, not the fleet.
package testnginx
