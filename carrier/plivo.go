package carrier

import (
	"fmt"
	"strings"
)

// Plivo is Plivo's Audio Streams protocol (bidirectional streams).
var Plivo = &Protocol{
	Name:           "plivo",
	MaxMessageSize: 64 << 10,
	NewDecoder:     func() Decoder { return &plivoDecoder{seq: sequence{carrier: "plivo"}} },
	NewCaller:      func(cfg CallerConfig) Caller { return newPlivoCaller(cfg) },
}

// Plivo's content types.
const (
	plivoMulaw = "audio/x-mulaw"
	plivoL16   = "audio/x-l16"
)

type plivoMsg struct {
	Event        string      `json:"event"`
	Sequence     num         `json:"sequenceNumber,omitzero"`
	StreamID     string      `json:"streamId,omitempty"`
	Start        *plivoStart `json:"start,omitempty"`
	Media        *plivoMedia `json:"media,omitempty"`
	DTMF         *plivoDTMF  `json:"dtmf,omitempty"`
	Name         string      `json:"name,omitempty"` // checkpoint, playedStream
	ExtraHeaders string      `json:"extra_headers,omitempty"`
}

type plivoStart struct {
	CallID      string   `json:"callId"`
	StreamID    string   `json:"streamId"`
	AccountID   string   `json:"accountId,omitempty"`
	Tracks      []string `json:"tracks,omitempty"`
	MediaFormat struct {
		Encoding   string `json:"encoding"`
		SampleRate num    `json:"sampleRate"`
	} `json:"mediaFormat"`
}

type plivoMedia struct {
	Track       string `json:"track,omitempty"`
	Timestamp   string `json:"timestamp,omitempty"`
	Chunk       num    `json:"chunk,omitzero"`
	ContentType string `json:"contentType,omitempty"` // playAudio
	SampleRate  num    `json:"sampleRate,omitzero"`   // playAudio
	Payload     string `json:"payload"`
}

type plivoDTMF struct {
	Digit string `json:"digit"`
	Track string `json:"track,omitempty"`
}

// plivoHeaders parses the extra_headers string ("k=v;k2=v2", or with
// commas as in the XML attribute).
func plivoHeaders(s string) map[string]string {
	if s == "" {
		return nil
	}
	p := map[string]string{}
	for _, kv := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' }) {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if k != "" {
			p[k] = v
		}
	}
	return p
}

func plivoFormat(enc string, rate int64) (format, bool) {
	switch {
	case enc == plivoMulaw && rate == 8000:
		return format{enc: mulaw, rate: 8000}, true
	case enc == plivoL16 && (rate == 8000 || rate == 16000):
		return format{enc: l16, rate: int(rate)}, true
	}
	return format{}, false
}

type plivoDecoder struct {
	seq     sequence
	started bool
	in      *inAudio
}

func (d *plivoDecoder) Decode(f Frame) ([]Event, error) {
	const c = "plivo"
	var m plivoMsg
	if err := decodeJSON(c, f.Data, &m); err != nil {
		return nil, err
	}
	if err := checkID(c, "streamId", m.StreamID, false); err != nil {
		return nil, err
	}
	if err := d.seq.check(m.Sequence); err != nil {
		return nil, err
	}
	if !d.started && m.Event != "start" && m.Event != "" {
		return nil, protoErr(c, nil, "%s before start", truncate(m.Event))
	}
	switch m.Event {
	case "start":
		return d.start(m)
	case "media":
		if m.Media == nil {
			return nil, protoErr(c, nil, "media message without media")
		}
		if m.Media.Track != "" && m.Media.Track != "inbound" {
			return nil, nil
		}
		unit := 1
		if d.in.f.enc == l16 {
			unit = 2
		}
		b, err := payload(c, m.Media.Payload, d.in.f.maxPayload(), unit)
		if err != nil {
			return nil, err
		}
		return []Event{{Kind: KindAudio, Audio: d.in.decode(b)}}, nil
	case "dtmf":
		if m.DTMF == nil || !validDigit(m.DTMF.Digit) {
			return nil, protoErr(c, nil, "bad dtmf digit")
		}
		return []Event{{Kind: KindDTMF, Digit: m.DTMF.Digit}}, nil
	case "playedStream":
		if m.Name == "" || len(m.Name) > maxMarkName {
			return nil, protoErr(c, nil, "playedStream without a valid name")
		}
		return []Event{{Kind: KindMark, Mark: m.Name}}, nil
	case "clearedAudio":
		return []Event{{Kind: KindCleared}}, nil
	case "":
		return nil, protoErr(c, nil, "message without event")
	}
	return nil, protoErr(c, nil, "unknown event %q", truncate(m.Event))
}

func (d *plivoDecoder) start(m plivoMsg) ([]Event, error) {
	const c = "plivo"
	s := m.Start
	switch {
	case d.started:
		return nil, protoErr(c, nil, "second start")
	case s == nil:
		return nil, protoErr(c, nil, "start message without start")
	case len(m.ExtraHeaders) > 512:
		return nil, protoErr(c, nil, "extra_headers longer than 512 bytes")
	}
	if err := checkID(c, "streamId", s.StreamID, true); err != nil {
		return nil, err
	}
	if err := checkID(c, "callId", s.CallID, false); err != nil {
		return nil, err
	}
	params := plivoHeaders(m.ExtraHeaders)
	if err := checkParams(c, params); err != nil {
		return nil, err
	}
	fm, ok := plivoFormat(s.MediaFormat.Encoding, s.MediaFormat.SampleRate.v)
	if !ok {
		return nil, protoErr(c, nil, "unsupported media format %q/%d", truncate(s.MediaFormat.Encoding), s.MediaFormat.SampleRate.v)
	}
	d.started, d.in = true, newInAudio(fm)
	id := s.CallID
	if id == "" {
		id = s.StreamID
	}
	agentID := params["agent_id"]
	if agentID == "" {
		agentID = params["agentId"] // extraHeaders allow only [A-Za-z0-9] in keys
	}
	return []Event{{Kind: KindStart, Start: &Start{CallID: id, StreamID: s.StreamID, AgentID: agentID, Parameters: params,
		Encoder: &plivoEncoder{sid: s.StreamID, f: fm, out: newOutAudio(fm)}}}}, nil
}

// plivoEncoder plays the agent's audio in the stream's own format.
type plivoEncoder struct {
	sid string
	f   format
	out *outAudio
}

func (f format) plivoContentType() string {
	if f.enc == mulaw {
		return plivoMulaw
	}
	return plivoL16
}

func (e *plivoEncoder) Audio(pcm []int16) []Frame {
	var fr []Frame
	for _, c := range e.f.chunks(e.out.encode(pcm), e.f.bytesFor(20), 0) {
		fr = append(fr, jsonFrame(plivoMsg{Event: "playAudio", Media: &plivoMedia{ContentType: e.f.plivoContentType(),
			SampleRate: mkNum(int64(e.f.rate)), Payload: b64(c)}}))
	}
	return fr
}

func (e *plivoEncoder) Mark(name string) []Frame {
	return []Frame{jsonFrame(plivoMsg{Event: "checkpoint", StreamID: e.sid, Name: name})}
}

func (e *plivoEncoder) Clear() Frame {
	return jsonFrame(plivoMsg{Event: "clearAudio", StreamID: e.sid})
}

// plivoCaller plays Plivo with mu-law at 8 kHz in 20 ms media messages.
type plivoCaller struct {
	cfg   CallerConfig
	seq   int64
	chunk int64
	f     format
}

func newPlivoCaller(cfg CallerConfig) *plivoCaller {
	return &plivoCaller{cfg: cfg, f: format{enc: mulaw, rate: 8000}}
}

func (c *plivoCaller) next() num { c.seq++; return mkNum(c.seq) }

func (c *plivoCaller) FrameSamples() int { return SampleRate / 50 }

func (c *plivoCaller) Open() []Frame {
	st := &plivoStart{CallID: c.cfg.CallID, StreamID: c.cfg.StreamID, AccountID: "MAPLIVOTEST", Tracks: []string{"inbound"}}
	st.MediaFormat.Encoding, st.MediaFormat.SampleRate = plivoMulaw, mkNum(8000)
	var h []string
	for k, v := range c.cfg.Parameters {
		h = append(h, k+"="+v)
	}
	return []Frame{jsonFrame(plivoMsg{Event: "start", Sequence: c.next(), Start: st, ExtraHeaders: strings.Join(h, ";")})}
}

func (c *plivoCaller) Audio(pcm []int16) []Frame {
	c.chunk++
	return []Frame{jsonFrame(plivoMsg{Event: "media", Sequence: c.next(), StreamID: c.cfg.StreamID, Media: &plivoMedia{
		Track: "inbound", Timestamp: fmt.Sprint((c.chunk - 1) * 20), Chunk: mkNum(c.chunk), Payload: b64(newOutAudio(c.f).encode(pcm))}})}
}

func (c *plivoCaller) DTMF(digit string) []Frame {
	return []Frame{jsonFrame(plivoMsg{Event: "dtmf", Sequence: c.next(), StreamID: c.cfg.StreamID, DTMF: &plivoDTMF{Digit: digit, Track: "inbound"}})}
}

// Stop is nil: a Plivo stream ends when Plivo closes the WebSocket.
func (c *plivoCaller) Stop() []Frame { return nil }

func (c *plivoCaller) Played(mark string) []Frame {
	return []Frame{jsonFrame(plivoMsg{Event: "playedStream", Sequence: c.next(), StreamID: c.cfg.StreamID, Name: mark})}
}

// Cleared acknowledges the clear; Plivo never reports the checkpoints
// whose audio it dropped.
func (c *plivoCaller) Cleared([]string) []Frame {
	return []Frame{jsonFrame(plivoMsg{Event: "clearedAudio", Sequence: c.next(), StreamID: c.cfg.StreamID})}
}

func (c *plivoCaller) Read(f Frame) (Reply, error) {
	var m plivoMsg
	if f.Binary {
		return Reply{}, fmt.Errorf("plivo: binary message")
	}
	if err := decodeJSON("plivo", f.Data, &m); err != nil {
		return Reply{}, err
	}
	switch m.Event {
	case "playAudio":
		if m.Media == nil {
			return Reply{}, fmt.Errorf("plivo: playAudio without media")
		}
		fm, ok := plivoFormat(m.Media.ContentType, m.Media.SampleRate.v)
		if !ok {
			return Reply{}, fmt.Errorf("plivo: playAudio format %q/%d", m.Media.ContentType, m.Media.SampleRate.v)
		}
		b, err := payload("plivo", m.Media.Payload, fm.maxPayload(), 1)
		if err != nil {
			return Reply{}, err
		}
		return Reply{Kind: ReplyAudio, Audio: newInAudio(fm).decode(b)}, nil
	case "checkpoint":
		return Reply{Kind: ReplyMark, Mark: m.Name}, nil
	case "clearAudio":
		return Reply{Kind: ReplyClear}, nil
	}
	return Reply{}, fmt.Errorf("plivo: unexpected event %q", truncate(m.Event))
}
