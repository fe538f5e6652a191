package twilio

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Event names of Twilio Media Streams messages.
const (
	EventConnected = "connected" // inbound: the stream is open
	EventStart     = "start"     // inbound: stream metadata, once
	EventMedia     = "media"     // both ways: a chunk of base64 mu-law audio
	EventDTMF      = "dtmf"      // inbound: the caller pressed a key
	EventMark      = "mark"      // both ways: a named point in the outbound audio
	EventStop      = "stop"      // inbound: the stream has ended
	EventClear     = "clear"     // outbound: drop the audio buffered for playback
)

// Audio format of a Twilio stream.
const (
	Encoding   = "audio/x-mulaw"
	SampleRate = 8000
	Channels   = 1
	// FrameBytes is one 20 ms frame of mu-law audio: 160 samples.
	FrameBytes = SampleRate / 50
)

// Limits the parser enforces on one inbound message.
const (
	// MaxMessageSize bounds one WebSocket message, in bytes.
	MaxMessageSize = 16 << 10
	// MaxPayloadBytes bounds the decoded audio of one media message (1 s).
	// A payload need not be a multiple of FrameBytes.
	MaxPayloadBytes = SampleRate
	maxIDLen        = 128
	maxParams       = 32
	maxMarkName     = 256
)

// Message is one Media Streams message in either direction. Exactly one of
// the event-specific fields is set, matching Event.
type Message struct {
	Event          string `json:"event"`
	SequenceNumber string `json:"sequenceNumber,omitempty"`
	StreamSID      string `json:"streamSid,omitempty"`
	// Protocol and Version are set on connected.
	Protocol string `json:"protocol,omitempty"`
	Version  string `json:"version,omitempty"`

	Start *Start `json:"start,omitempty"`
	Media *Media `json:"media,omitempty"`
	DTMF  *DTMF  `json:"dtmf,omitempty"`
	Mark  *Mark  `json:"mark,omitempty"`
	Stop  *Stop  `json:"stop,omitempty"`
}

// Start describes the stream: which call it belongs to and its audio format.
type Start struct {
	AccountSID       string            `json:"accountSid,omitempty"`
	StreamSID        string            `json:"streamSid"`
	CallSID          string            `json:"callSid"`
	Tracks           []string          `json:"tracks,omitempty"`
	CustomParameters map[string]string `json:"customParameters,omitempty"`
	MediaFormat      MediaFormat       `json:"mediaFormat"`
}

// MediaFormat is the encoding of the stream's audio.
type MediaFormat struct {
	Encoding   string `json:"encoding"`
	SampleRate int    `json:"sampleRate"`
	Channels   int    `json:"channels"`
}

// Media carries one chunk of audio. Inbound messages set Track, Chunk and
// Timestamp; outbound ones only Payload.
type Media struct {
	Track     string `json:"track,omitempty"`
	Chunk     string `json:"chunk,omitempty"`
	Timestamp string `json:"timestamp,omitempty"`
	Payload   string `json:"payload"`

	// Audio is Payload decoded, filled in by Parse; it is not sent.
	Audio []byte `json:"-"`
}

// DTMF is one key press.
type DTMF struct {
	Track string `json:"track,omitempty"`
	Digit string `json:"digit"`
}

// Mark names a point in the outbound audio; the carrier echoes it back when
// the audio before it has played.
type Mark struct {
	Name string `json:"name"`
}

// Stop closes the stream.
type Stop struct {
	AccountSID string `json:"accountSid,omitempty"`
	CallSID    string `json:"callSid,omitempty"`
}

// ProtocolError reports an inbound message that breaks the protocol. The
// server answers it by closing the WebSocket with a policy-violation code
// and Reason.
type ProtocolError struct {
	Reason string
	Err    error // underlying cause, if any
}

func (e *ProtocolError) Error() string {
	if e.Err != nil {
		return "twilio protocol: " + e.Reason + ": " + e.Err.Error()
	}
	return "twilio protocol: " + e.Reason
}

func (e *ProtocolError) Unwrap() error { return e.Err }

func protoErr(err error, format string, args ...any) *ProtocolError {
	return &ProtocolError{Reason: fmt.Sprintf(format, args...), Err: err}
}

// Parse decodes and validates one inbound message. Every failure is a
// *ProtocolError. For a media message it also decodes the payload into
// Media.Audio.
func Parse(data []byte) (Message, error) {
	var m Message
	if len(data) > MaxMessageSize {
		return m, protoErr(nil, "message of %d bytes exceeds %d", len(data), MaxMessageSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return Message{}, protoErr(err, "malformed JSON")
	}
	if dec.More() {
		return Message{}, protoErr(nil, "trailing data after message")
	}
	if err := m.validate(); err != nil {
		return Message{}, err
	}
	return m, nil
}

func (m *Message) validate() error {
	if len(m.StreamSID) > maxIDLen {
		return protoErr(nil, "streamSid too long")
	}
	switch m.Event {
	case EventConnected:
		return nil
	case EventStart:
		return m.Start.validate()
	case EventMedia:
		return m.Media.decode()
	case EventDTMF:
		if m.DTMF == nil {
			return protoErr(nil, "dtmf message without dtmf")
		}
		if !validDigit(m.DTMF.Digit) {
			return protoErr(nil, "dtmf digit %q", truncate(m.DTMF.Digit))
		}
		return nil
	case EventMark:
		if m.Mark == nil || m.Mark.Name == "" || len(m.Mark.Name) > maxMarkName {
			return protoErr(nil, "mark message without a valid name")
		}
		return nil
	case EventStop:
		return nil
	case "":
		return protoErr(nil, "message without event")
	default:
		return protoErr(nil, "unknown event %q", truncate(m.Event))
	}
}

func (s *Start) validate() error {
	switch {
	case s == nil:
		return protoErr(nil, "start message without start")
	case s.StreamSID == "" || len(s.StreamSID) > maxIDLen:
		return protoErr(nil, "start: bad streamSid")
	case len(s.CallSID) > maxIDLen:
		return protoErr(nil, "start: callSid too long")
	case len(s.CustomParameters) > maxParams:
		return protoErr(nil, "start: more than %d custom parameters", maxParams)
	}
	f := s.MediaFormat
	if f.Encoding != Encoding || f.SampleRate != SampleRate || f.Channels != Channels {
		return protoErr(nil, "start: unsupported media format %q/%d/%d", truncate(f.Encoding), f.SampleRate, f.Channels)
	}
	return nil
}

func (md *Media) decode() error {
	if md == nil {
		return protoErr(nil, "media message without media")
	}
	if base64.StdEncoding.DecodedLen(len(md.Payload)) > MaxPayloadBytes+2 {
		return protoErr(nil, "media payload exceeds %d bytes", MaxPayloadBytes)
	}
	audio, err := base64.StdEncoding.DecodeString(md.Payload)
	if err != nil {
		return protoErr(err, "media payload is not base64")
	}
	if len(audio) > MaxPayloadBytes {
		return protoErr(nil, "media payload exceeds %d bytes", MaxPayloadBytes)
	}
	md.Audio = audio
	return nil
}

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

// OutboundMedia builds a media message carrying mu-law audio to the caller.
func OutboundMedia(streamSID string, mulaw []byte) Message {
	return Message{Event: EventMedia, StreamSID: streamSID,
		Media: &Media{Payload: base64.StdEncoding.EncodeToString(mulaw)}}
}

// OutboundMark builds a mark message.
func OutboundMark(streamSID, name string) Message {
	return Message{Event: EventMark, StreamSID: streamSID, Mark: &Mark{Name: name}}
}

// OutboundClear builds a clear message.
func OutboundClear(streamSID string) Message {
	return Message{Event: EventClear, StreamSID: streamSID}
}
