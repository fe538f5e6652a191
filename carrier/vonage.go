package carrier

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// Vonage is the Vonage Voice API's WebSocket protocol: binary audio/l16 at
// 16 kHz in 640-byte frames, JSON text for events and actions.
var Vonage = &Protocol{
	Name:           "vonage",
	MaxMessageSize: 16 << 10,
	BinaryAudio:    true,
	NewDecoder:     func() Decoder { return &vonageDecoder{} },
	NewCaller:      func(cfg CallerConfig) Caller { return newVonageCaller(cfg) },
}

// VonageFrameBytes is one 20 ms frame of 16 kHz audio/l16, the only frame
// size Vonage sends and accepts at that rate.
const VonageFrameBytes = 640

const vonageContentType = "audio/l16;rate="

// vonageEvent is a text message from Vonage. websocket:connected carries
// the NCCO endpoint's headers as further top-level fields.
type vonageEvent struct {
	Event       string          `json:"event"`
	ContentType string          `json:"content-type,omitempty"`
	Digit       string          `json:"digit,omitempty"`
	Duration    num             `json:"duration,omitzero"`
	Payload     json.RawMessage `json:"payload,omitempty"`
}

// vonageAction is a text message to Vonage.
type vonageAction struct {
	Action  string `json:"action"`
	Payload any    `json:"payload,omitempty"`
}

type vonageNotify struct {
	Mark string `json:"mark"`
}

type vonageDecoder struct {
	started bool
	f       format
	in      *inAudio
}

func (d *vonageDecoder) Decode(f Frame) ([]Event, error) {
	const c = "vonage"
	if f.Binary {
		if !d.started {
			return nil, protoErr(c, nil, "audio before websocket:connected")
		}
		if want := d.f.bytesFor(20); len(f.Data) != want {
			return nil, protoErr(c, nil, "audio frame of %d bytes, want %d", len(f.Data), want)
		}
		return []Event{{Kind: KindAudio, Audio: d.in.decode(f.Data)}}, nil
	}
	var m vonageEvent
	if err := decodeJSON(c, f.Data, &m); err != nil {
		return nil, err
	}
	if !d.started && m.Event != "websocket:connected" && m.Event != "" {
		return nil, protoErr(c, nil, "%s before websocket:connected", truncate(m.Event))
	}
	switch m.Event {
	case "websocket:connected":
		return d.connected(f.Data, m)
	case "websocket:dtmf":
		if !validDigit(m.Digit) {
			return nil, protoErr(c, nil, "bad dtmf digit")
		}
		return []Event{{Kind: KindDTMF, Digit: m.Digit}}, nil
	case "websocket:notify":
		var n vonageNotify
		if err := json.Unmarshal(m.Payload, &n); err != nil || n.Mark == "" || len(n.Mark) > maxMarkName {
			return nil, protoErr(c, err, "websocket:notify without a valid mark")
		}
		return []Event{{Kind: KindMark, Mark: n.Mark}}, nil
	case "websocket:cleared":
		return []Event{{Kind: KindCleared}}, nil
	case "":
		return nil, protoErr(c, nil, "message without event")
	}
	return nil, protoErr(c, nil, "unknown event %q", truncate(m.Event))
}

func (d *vonageDecoder) connected(data []byte, m vonageEvent) ([]Event, error) {
	const c = "vonage"
	if d.started {
		return nil, protoErr(c, nil, "second websocket:connected")
	}
	var rate int
	if _, err := fmt.Sscanf(strings.TrimPrefix(m.ContentType, vonageContentType), "%d", &rate); err != nil ||
		!strings.HasPrefix(m.ContentType, vonageContentType) || rate != 8000 && rate != 16000 {
		return nil, protoErr(c, err, "unsupported content-type %q", truncate(m.ContentType))
	}
	// The endpoint's headers: every other string field.
	var all map[string]any
	if err := json.Unmarshal(data, &all); err != nil {
		return nil, protoErr(c, err, "malformed JSON")
	}
	params := map[string]string{}
	for k, v := range all {
		if s, ok := v.(string); ok && k != "event" && k != "content-type" {
			params[k] = s
		}
	}
	if err := checkParams(c, params); err != nil {
		return nil, err
	}
	id := params["uuid"]
	if err := checkID(c, "uuid", id, false); err != nil {
		return nil, err
	}
	if id == "" {
		id = "vonage-" + randomHex()
	}
	d.started, d.f = true, format{enc: l16, rate: rate}
	d.in = newInAudio(d.f)
	return []Event{{Kind: KindStart, Start: &Start{CallID: id, StreamID: id, AgentID: params["agent_id"], Parameters: params,
		Encoder: &vonageEncoder{f: d.f, out: newOutAudio(d.f)}}}}, nil
}

// vonageEncoder sends binary frames of exactly 20 ms, the last padded.
// A remainder short of a frame waits for the next audio, or is padded
// before a mark.
type vonageEncoder struct {
	f    format
	out  *outAudio
	rest units
}

func (e *vonageEncoder) frames(b []byte) []Frame {
	var fr []Frame
	n := e.f.bytesFor(20)
	for _, c := range e.f.chunks(b, n, n) {
		fr = append(fr, Frame{Binary: true, Data: c})
	}
	return fr
}

func (e *vonageEncoder) Audio(pcm []int16) []Frame {
	return e.frames(e.rest.whole(e.out.encode(pcm), e.f.bytesFor(20)))
}

func (e *vonageEncoder) Mark(name string) []Frame {
	return append(e.frames(e.rest.flush()), jsonFrame(vonageAction{Action: "notify", Payload: vonageNotify{Mark: name}}))
}

func (e *vonageEncoder) Flush() []Frame { return e.frames(e.rest.flush()) }

func (e *vonageEncoder) Clear() Frame {
	e.rest.flush()
	return jsonFrame(vonageAction{Action: "clear"})
}

func randomHex() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// vonageCaller plays Vonage at 16 kHz.
type vonageCaller struct {
	cfg  CallerConfig
	f    format
	up   *outAudio // the caller's 8 kHz voice to 16 kHz
	down *inAudio  // the agent's 16 kHz audio to 8 kHz
}

func newVonageCaller(cfg CallerConfig) *vonageCaller {
	f := format{enc: l16, rate: 16000}
	return &vonageCaller{cfg: cfg, f: f, up: newOutAudio(f), down: newInAudio(f)}
}

func (c *vonageCaller) FrameSamples() int { return SampleRate / 50 }

func (c *vonageCaller) Open() []Frame {
	m := map[string]string{}
	for k, v := range c.cfg.Parameters {
		m[k] = v
	}
	m["event"], m["content-type"], m["uuid"] = "websocket:connected", vonageContentType+"16000", c.cfg.CallID
	return []Frame{jsonFrame(m)}
}

// Audio sends exactly one 640-byte frame per 20 ms; the resampler's delay
// is carried into the next frame.
func (c *vonageCaller) Audio(pcm []int16) []Frame {
	b := c.up.encode(pcm)
	n := c.f.bytesFor(20)
	if len(b) < n {
		b = append(b, c.f.silence(n-len(b))...)
	}
	return []Frame{{Binary: true, Data: b[:n]}}
}

func (c *vonageCaller) DTMF(digit string) []Frame {
	return []Frame{jsonFrame(vonageEvent{Event: "websocket:dtmf", Digit: digit, Duration: mkNum(260)})}
}

// Stop is nil: Vonage ends the stream by closing the WebSocket.
func (c *vonageCaller) Stop() []Frame { return nil }

func (c *vonageCaller) Played(mark string) []Frame {
	p, _ := json.Marshal(vonageNotify{Mark: mark})
	return []Frame{jsonFrame(vonageEvent{Event: "websocket:notify", Payload: p})}
}

// Cleared acknowledges the clear; the dropped audio's notifications never
// come.
func (c *vonageCaller) Cleared([]string) []Frame {
	return []Frame{jsonFrame(vonageEvent{Event: "websocket:cleared"})}
}

func (c *vonageCaller) Read(f Frame) (Reply, error) {
	if f.Binary {
		if len(f.Data) != c.f.bytesFor(20) {
			return Reply{}, fmt.Errorf("vonage: audio frame of %d bytes, want %d", len(f.Data), c.f.bytesFor(20))
		}
		return Reply{Kind: ReplyAudio, Audio: c.down.decode(f.Data)}, nil
	}
	var a struct {
		Action  string       `json:"action"`
		Payload vonageNotify `json:"payload"`
	}
	if err := decodeJSON("vonage", f.Data, &a); err != nil {
		return Reply{}, err
	}
	switch a.Action {
	case "notify":
		return Reply{Kind: ReplyMark, Mark: a.Payload.Mark}, nil
	case "clear":
		return Reply{Kind: ReplyClear}, nil
	}
	return Reply{}, fmt.Errorf("vonage: unexpected action %q", truncate(a.Action))
}
