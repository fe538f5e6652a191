// Package lkplace places the Dialler's calls through LiveKit: one
// CreateSIPParticipant per attempt into the attempt's own room, with the
// attempt's participant identity, waiting until the callee answers or the
// call fails with a SIP status. An abandoned call is hung up by deleting
// its room; an attempt is live while its callee is in its room.
//
// lkplace imports only dialler and lkapi.
package lkplace
