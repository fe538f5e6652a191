// Package store is voxbridge's MongoDB layer: the documents it keeps, the
// indexes it creates at boot, and organisation-scoped queries. Every query a
// person can trigger carries the caller's org_id, so an id from another
// organisation reads as not found.
//
// Nothing here uses multi-document transactions (the MongoDB-wire server of
// the tests has none): multi-step changes are single conditional updates.
//
// store imports nothing from this module but api/phone and api/importer; it must
// never import supervisor, callslot or upstream.
package store
