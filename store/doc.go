// Package store is the platform's MongoDB layer, shared by voxbridge and
// voxdialler: the documents they keep, the indexes voxbridge creates at boot
// (voxdialler only waits for them), and organisation-scoped queries. Every query a
// person can trigger carries the caller's org_id, so an id from another
// organisation reads as not found.
//
// Nothing here uses multi-document transactions (the MongoDB-wire server of
// the tests has none): multi-step changes are single conditional updates.
//
// store imports nothing from this module but phone, importer and
// runtimeapi (the runtime contract its call and agent models embed); it must
// never import api, supervisor, callslot or upstream.
package store
