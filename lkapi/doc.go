// Package lkapi is the thin layer over LiveKit's server API that the worker
// and the Dialler share: placing a SIP call into a room
// (CreateSIPParticipant, answered or failed with its SIP status), deleting a
// room, removing a participant, minting join tokens for widget callers,
// verifying LiveKit's signed webhooks with the LiveKit key and secret, and
// creating SIP trunks and dispatch rules for tests and deployment.
//
// It is pure Go (no cgo): media lives in roomleg. It imports nothing from this
// module.
package lkapi
