package fleetapi

import (
	"errors"
	"net/http"
)

// ErrorBody is the body of every error answer of the fleet, the daemon's
// control socket and the Backend: {"error": "..."}.
type ErrorBody struct {
	Error string `json:"error"`
}

// Error is an HTTP error: on a server, what a handler returns to answer with
// Status and {"error": Message}; from a Client, what the server answered.
// Err, when set, is the detail behind it: logged, never shown to a client.
type Error struct {
	Status  int
	Message string
	Err     error
}

// Error is the message (or the status text when there is none), followed by
// the detail when there is one; the status itself is in Status (a Client
// names it in the error it wraps this one in).
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with status and message, and err as its detail
// (may be nil).
func Errorf(status int, msg string, err error) *Error {
	return &Error{Status: status, Message: msg, Err: err}
}

// StatusOf returns the HTTP status an error answered with (or would answer
// with), or 0 when err is not an *Error.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// IsBusy reports whether err is a worker's 429: busy or draining, try
// another worker.
func IsBusy(err error) bool { return StatusOf(err) == http.StatusTooManyRequests }
