// Package testmongo runs a real MongoDB-wire server for tests: FerretDB
// embedded in the small program under ./ferretdb (a Go module of its own, so
// FerretDB's dependencies stay out of the project's go.mod), with its SQLite
// handler and a data directory under t.TempDir().
//
// The program is built once into .cache/vox-ferretdb at the repository root
// (scripts/deps-ferretdb.sh does the same ahead of time) and rebuilt only when
// its sources change. A Server can be stopped and started again on the same
// port and data directory, for outage tests.
//
// It is imported only by tests and imports nothing from this module but
// internal/testenv.
package testmongo
