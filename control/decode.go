package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxRequestBytes bounds the body of every control request.
const MaxRequestBytes = 64 << 10

// Request is a control request body that can check its own fields.
type Request interface {
	Validate() error
}

// DecodeError is a request body the daemon refuses. TooLarge marks a body
// over MaxRequestBytes (413); anything else is bad input (400).
type DecodeError struct {
	Msg      string
	TooLarge bool
}

func (e *DecodeError) Error() string { return e.Msg }

// Decode reads exactly one JSON object from r into v, strictly: the body is
// required, unknown fields, trailing data and bodies over MaxRequestBytes
// are refused, and v's own Validate must pass. Every error is a *DecodeError.
func Decode(r io.Reader, v Request) error {
	b, err := io.ReadAll(io.LimitReader(r, MaxRequestBytes+1))
	if err != nil {
		return &DecodeError{Msg: fmt.Sprintf("invalid request: read body: %v", err)}
	}
	if len(b) > MaxRequestBytes {
		return &DecodeError{Msg: fmt.Sprintf("invalid request: body over %d bytes", MaxRequestBytes), TooLarge: true}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return &DecodeError{Msg: "invalid request: a JSON body is required"}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &DecodeError{Msg: "invalid request: " + strings.TrimPrefix(err.Error(), "json: ")}
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return &DecodeError{Msg: "invalid request: unexpected data after the JSON object"}
	}
	if err := v.Validate(); err != nil {
		return &DecodeError{Msg: "invalid request: " + err.Error()}
	}
	return nil
}
