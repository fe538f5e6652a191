// Package testminio runs a real MinIO server for tests on free loopback
// ports, with its data under t.TempDir().
//
// The minio binary is built by scripts/deps-minio.sh (go install of a pinned
// version into $(go env GOPATH)/bin); it is run as a separate server and never
// linked. It is imported only by tests and imports nothing from this module but
// internal/testenv.
package testminio
