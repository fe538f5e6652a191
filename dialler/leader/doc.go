// Package leader keeps exactly one Dialler dialling per database: a leader
// document in MongoDB names the owner, how long its lease lasts and an
// epoch, the fencing token every lease write carries. The Elector renews
// the lease each tick; a standby takes over once the lease has expired,
// incrementing the epoch, so that writes of the deposed leader are refused.
//
// leader imports only store.
package leader
