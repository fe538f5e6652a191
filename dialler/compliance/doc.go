// Package compliance holds the Dialler's calling rules as pure functions:
// calling windows by time zone, what an attempt's outcome does to the
// contact (retry delay, maximum attempts, the 72-hour quiet period after an
// abandoned call) and whether a campaign is over its abandon budget. The
// do-not-call list is checked by the dialler at dial time against the store.
//
// compliance imports only store (for its models) and pacing (for tallies).
package compliance
