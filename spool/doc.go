// Package spool is a durable on-disk queue of JSON records, one file per
// record, keyed (by call id): a later Put of a key replaces the earlier
// record, so a writer puts whole states, not changes. It survives crashes:
// a record is written to a temporary file, synced, and renamed into
// pending/ (then the directory is synced), so a record is either absent or
// whole.
//
// Several processes may Put into one spool at once; one Drainer at a time
// (an exclusive flock on drain.lock) delivers records to a Sink. The
// drainer claims a record by renaming it into inflight/ — a Put meanwhile
// lands beside it in pending/ and is not lost — and removes it once the
// sink took it. A record the sink refuses for good goes to failed/ (kept,
// never retried); any other failure puts it back (unless a newer state of
// the key arrived) and the drainer backs off. A drainer that died leaves
// its claims in inflight/; the next one puts them back first.
//
// spool imports nothing from this module.
package spool
