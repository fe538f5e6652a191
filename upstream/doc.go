// Package upstream renders and applies the nginx upstream file that voxfleet
// owns: one `server unix:…` line per live worker socket, with `least_conn`,
// `max_conns=1` and a shared-memory `zone`, so that each worker handles exactly
// one call across all nginx worker processes.
//
// Render is pure. Manager writes the file atomically, runs the configured
// nginx test and reload commands, restores the previous file when the test
// fails, keeps the tested file when only the reload fails (nginx reads it when
// it starts), retries, and reloads nginx only when the set of sockets changes,
// coalescing bursts of updates into one reload. State tells which set nginx
// routes to and why the latest one is not applied.
//
// upstream must not import supervisor, callslot or api: the daemon feeds it
// socket paths, nothing more.
package upstream
