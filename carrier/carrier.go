package carrier

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"unicode/utf8"
)

// SampleRate is the rate of every sample slice this package exchanges with
// the worker (agent.SampleRate).
const SampleRate = 8000

// Frame is one WebSocket message.
type Frame struct {
	Binary bool
	Data   []byte
}

// Text makes a text frame.
func Text(b []byte) Frame { return Frame{Data: b} }

// Kind says what an Event is.
type Kind int

// The kinds of Event a Decoder returns.
const (
	KindStart   Kind = iota + 1 // the stream begins: Start is set
	KindAudio                   // caller audio: Audio is set
	KindDTMF                    // a key press: Digit is set
	KindMark                    // agent audio up to mark Mark has played
	KindCleared                 // the carrier dropped the agent audio queued at the last clear
	KindNotice                  // the carrier reports a problem (Text); the stream goes on
	KindStop                    // the carrier ends the stream
)

// Event is one thing the carrier's side of a stream said.
type Event struct {
	Kind  Kind
	Start *Start
	Audio []int16 // 8 kHz mono
	Digit string
	Mark  string
	Text  string
}

// Start is what a stream says of its call when it begins.
type Start struct {
	CallID     string
	StreamID   string
	AgentID    string // "" when the carrier's parameters do not name one
	Parameters map[string]string
	// Encoder frames the agent's side of this stream.
	Encoder Encoder
}

// Decoder validates and decodes the carrier's frames of one stream. It is
// not safe for concurrent use.
type Decoder interface {
	// Decode returns the events of f, in order (none while a reordering
	// protocol waits for a missing frame). Every error is a
	// *ProtocolError.
	Decode(f Frame) ([]Event, error)
}

// Encoder frames the agent's side of one stream. It is not safe for
// concurrent use: the leg serialises its calls with its writes.
type Encoder interface {
	// Audio frames 8 kHz agent audio for playback.
	Audio(pcm []int16) []Frame
	// Mark asks the carrier to report when the audio sent so far has
	// played (a KindMark event with name); audio an encoder held back to
	// fill a whole frame goes first, padded with silence.
	Mark(name string) []Frame
	// Clear asks the carrier to drop the audio queued for playback (and
	// drops any the encoder held back).
	Clear() Frame
}

// Flusher is an Encoder that holds back the end of the agent's audio
// short of a whole frame, for the next audio to complete. Flush returns
// it padded with silence; a leg calls it when no audio has followed for a
// moment, so that audio with no mark after it is not held for ever.
type Flusher interface {
	Flush() []Frame
}

// Protocol is one carrier's media-stream protocol.
type Protocol struct {
	// Name is the carrier's name and the last element of its route,
	// /ws/<Name>; it is also the call record's carrier.
	Name string
	// MaxMessageSize bounds one inbound WebSocket message.
	MaxMessageSize int64
	// BinaryAudio says the carrier sends audio in binary messages; binary
	// messages are otherwise a protocol violation.
	BinaryAudio bool
	// NewDecoder makes the decoder of one stream.
	NewDecoder func() Decoder
	// NewCaller makes the carrier's side of one stream (Client).
	NewCaller func(cfg CallerConfig) Caller
}

// Protocols are every carrier a worker answers, by name.
func Protocols() map[string]*Protocol {
	return map[string]*Protocol{
		Twilio.Name: Twilio, Exotel.Name: Exotel, Plivo.Name: Plivo, Telnyx.Name: Telnyx, Vonage.Name: Vonage,
	}
}

// Names are the carriers' names, sorted.
func Names() []string {
	var n []string
	for k := range Protocols() {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// ProtocolError reports an inbound frame that breaks the protocol. The
// worker answers it by closing the WebSocket with a policy-violation code
// and Reason.
type ProtocolError struct {
	Carrier string
	Reason  string
	Err     error // underlying cause, if any
}

func (e *ProtocolError) Error() string {
	s := e.Carrier + " protocol: " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ProtocolError) Unwrap() error { return e.Err }

func protoErr(carrier string, err error, format string, args ...any) *ProtocolError {
	return &ProtocolError{Carrier: carrier, Reason: fmt.Sprintf(format, args...), Err: err}
}

// Limits every decoder enforces.
const (
	maxIDLen    = 128
	maxParams   = 32
	maxParamLen = 256
	maxMarkName = 256
	// maxPayloadSeconds bounds the audio of one inbound message.
	maxPayloadSeconds = 1
)

// validDigit reports whether d is one DTMF key: 0-9, *, #, A-D.
func validDigit(d string) bool {
	if len(d) != 1 {
		return false
	}
	c := d[0]
	return c >= '0' && c <= '9' || c == '*' || c == '#' || c >= 'A' && c <= 'D'
}

// truncate shortens s for an error message, on a rune boundary.
func truncate(s string) string {
	const n = 32
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// checkParams bounds a carrier's custom parameters.
func checkParams(carrier string, p map[string]string) error {
	if len(p) > maxParams {
		return protoErr(carrier, nil, "more than %d custom parameters", maxParams)
	}
	for k, v := range p {
		if len(k) > maxParamLen || len(v) > maxParamLen {
			return protoErr(carrier, nil, "custom parameter %q too long", truncate(k))
		}
	}
	return nil
}

// checkID bounds an identifier; required ones must be set.
func checkID(carrier, name, id string, required bool) error {
	if required && id == "" || len(id) > maxIDLen {
		return protoErr(carrier, nil, "bad %s", name)
	}
	return nil
}

// num is a JSON number that carriers send either as a number or as a
// string of digits (sequence numbers, rates, chunks).
type num struct {
	v   int64
	set bool
}

func (n *num) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if len(s) >= 2 && s[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not a number: %q", truncate(s))
	}
	n.v, n.set = v, true
	return nil
}

func (n num) MarshalJSON() ([]byte, error) { return []byte(strconv.FormatInt(n.v, 10)), nil }

// numStr marshals as a JSON string of digits, as Exotel and Telnyx send.
type numStr struct{ num }

func (n numStr) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatInt(n.v, 10) + `"`), nil
}

func mkNum(v int64) num       { return num{v: v, set: true} }
func mkNumStr(v int64) numStr { return numStr{mkNum(v)} }

// sequence checks that sequence numbers strictly increase, for carriers
// whose frames arrive in order.
type sequence struct {
	carrier string
	last    int64
}

func (s *sequence) check(n num) error {
	if !n.set {
		return nil
	}
	if n.v <= s.last {
		return protoErr(s.carrier, nil, "out-of-order sequence number %d after %d", n.v, s.last)
	}
	s.last = n.v
	return nil
}
