package carrier

import (
	"fmt"
	"sort"
)

// Telnyx is Telnyx's Media Streaming protocol (bidirectional RTP mode,
// PCMU at 8 kHz).
var Telnyx = &Protocol{
	Name:           "telnyx",
	MaxMessageSize: 32 << 10,
	NewDecoder:     func() Decoder { return &telnyxDecoder{pending: map[int64]Event{}} },
	NewCaller:      func(cfg CallerConfig) Caller { return newTelnyxCaller(cfg) },
}

// TelnyxReorderWindow is how many frames a Telnyx stream holds while it
// waits for a missing sequence number; past it the missing frame is given
// up (it would come too late to play) and the held frames go on in order.
const TelnyxReorderWindow = 8

type telnyxMsg struct {
	Event    string       `json:"event"`
	Version  string       `json:"version,omitempty"`
	Sequence numStr       `json:"sequence_number,omitzero"`
	StreamID string       `json:"stream_id,omitempty"`
	Start    *telnyxStart `json:"start,omitempty"`
	Media    *telnyxMedia `json:"media,omitempty"`
	DTMF     *telnyxDTMF  `json:"dtmf,omitempty"`
	Mark     *telnyxMark  `json:"mark,omitempty"`
	Stop     *telnyxStop  `json:"stop,omitempty"`
	Payload  *telnyxError `json:"payload,omitempty"` // error
}

type telnyxStart struct {
	UserID        string            `json:"user_id,omitempty"`
	CallControlID string            `json:"call_control_id"`
	CallSessionID string            `json:"call_session_id,omitempty"`
	From          string            `json:"from,omitempty"`
	To            string            `json:"to,omitempty"`
	CustomParams  map[string]string `json:"custom_parameters,omitempty"`
	MediaFormat   struct {
		Encoding   string `json:"encoding"`
		SampleRate num    `json:"sample_rate"`
		Channels   num    `json:"channels"`
	} `json:"media_format"`
}

type telnyxMedia struct {
	Track     string `json:"track,omitempty"`
	Chunk     numStr `json:"chunk,omitzero"`
	Timestamp numStr `json:"timestamp,omitzero"`
	Payload   string `json:"payload"`
}

type telnyxDTMF struct {
	Digit string `json:"digit"`
}

type telnyxMark struct {
	Name string `json:"name"`
}

type telnyxStop struct {
	UserID        string `json:"user_id,omitempty"`
	CallControlID string `json:"call_control_id,omitempty"`
}

type telnyxError struct {
	Code   int64  `json:"code"`
	Title  string `json:"title"`
	Detail string `json:"detail,omitempty"`
}

var telnyxPCMU = format{enc: mulaw, rate: 8000}

// telnyxDecoder puts the frames after start back in sequence_number order.
type telnyxDecoder struct {
	started bool
	next    int64           // the sequence number due next
	pending map[int64]Event // frames that arrived before their turn
	stopped bool
}

func (d *telnyxDecoder) Decode(f Frame) ([]Event, error) {
	const c = "telnyx"
	var m telnyxMsg
	if err := decodeJSON(c, f.Data, &m); err != nil {
		return nil, err
	}
	if err := checkID(c, "stream_id", m.StreamID, false); err != nil {
		return nil, err
	}
	ev, err := d.event(m)
	if err != nil || ev == nil {
		return nil, err
	}
	switch {
	case ev.Kind == KindStart:
		d.started, d.next = true, m.Sequence.v+1
		return []Event{*ev}, nil
	case !d.started:
		return nil, protoErr(c, nil, "%s before start", truncate(m.Event))
	case !m.Sequence.set || ev.Kind == KindNotice:
		return []Event{*ev}, nil
	case d.stopped:
		return nil, nil
	}
	seq := m.Sequence.v
	if seq < d.next {
		return nil, nil // given up on already, or a duplicate of one played: too late to matter
	}
	if _, dup := d.pending[seq]; dup {
		return nil, protoErr(c, nil, "duplicate sequence_number %d", seq)
	}
	d.pending[seq] = *ev
	if ev.Kind == KindStop {
		// Nothing more comes: play what is held, in order, then stop.
		d.stopped = true
		return d.drain(true), nil
	}
	return d.drain(len(d.pending) > TelnyxReorderWindow), nil
}

// drain returns the held frames that are due, in order; with skip it
// gives up on missing ones until at most the window is held (all, at stop).
func (d *telnyxDecoder) drain(skip bool) []Event {
	var out []Event
	for len(d.pending) > 0 {
		ev, ok := d.pending[d.next]
		if !ok {
			if !skip || !d.stopped && len(d.pending) <= TelnyxReorderWindow {
				break
			}
			keys := make([]int64, 0, len(d.pending))
			for k := range d.pending {
				keys = append(keys, k)
			}
			sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
			d.next = keys[0]
			continue
		}
		delete(d.pending, d.next)
		d.next++
		out = append(out, ev)
	}
	return out
}

// event validates one message and turns it into its event (nil: none).
func (d *telnyxDecoder) event(m telnyxMsg) (*Event, error) {
	const c = "telnyx"
	switch m.Event {
	case "connected":
		return nil, nil
	case "start":
		return d.start(m)
	case "media":
		if m.Media == nil {
			return nil, protoErr(c, nil, "media message without media")
		}
		if m.Media.Track != "" && m.Media.Track != "inbound" {
			return nil, nil
		}
		b, err := payload(c, m.Media.Payload, telnyxPCMU.maxPayload(), 1)
		if err != nil {
			return nil, err
		}
		return &Event{Kind: KindAudio, Audio: newInAudio(telnyxPCMU).decode(b)}, nil
	case "dtmf":
		if m.DTMF == nil || !validDigit(m.DTMF.Digit) {
			return nil, protoErr(c, nil, "bad dtmf digit")
		}
		return &Event{Kind: KindDTMF, Digit: m.DTMF.Digit}, nil
	case "mark":
		if m.Mark == nil || m.Mark.Name == "" || len(m.Mark.Name) > maxMarkName {
			return nil, protoErr(c, nil, "mark message without a valid name")
		}
		return &Event{Kind: KindMark, Mark: m.Mark.Name}, nil
	case "error":
		if m.Payload == nil {
			return nil, protoErr(c, nil, "error message without payload")
		}
		return &Event{Kind: KindNotice, Text: fmt.Sprintf("%d %s: %s", m.Payload.Code, truncate(m.Payload.Title), truncate(m.Payload.Detail))}, nil
	case "stop":
		return &Event{Kind: KindStop}, nil
	case "":
		return nil, protoErr(c, nil, "message without event")
	}
	return nil, protoErr(c, nil, "unknown event %q", truncate(m.Event))
}

func (d *telnyxDecoder) start(m telnyxMsg) (*Event, error) {
	const c = "telnyx"
	s := m.Start
	switch {
	case d.started:
		return nil, protoErr(c, nil, "second start")
	case s == nil:
		return nil, protoErr(c, nil, "start message without start")
	}
	if err := checkID(c, "stream_id", m.StreamID, true); err != nil {
		return nil, err
	}
	if err := checkID(c, "call_control_id", s.CallControlID, false); err != nil {
		return nil, err
	}
	if err := checkParams(c, s.CustomParams); err != nil {
		return nil, err
	}
	f := s.MediaFormat
	if f.Encoding != "PCMU" || f.SampleRate.v != 8000 || f.Channels.set && f.Channels.v != 1 {
		return nil, protoErr(c, nil, "unsupported media format %q/%d/%d", truncate(f.Encoding), f.SampleRate.v, f.Channels.v)
	}
	id := s.CallControlID
	if id == "" {
		id = m.StreamID
	}
	return &Event{Kind: KindStart, Start: &Start{CallID: id, StreamID: m.StreamID, AgentID: s.CustomParams["agent_id"],
		Parameters: s.CustomParams, Encoder: &telnyxEncoder{sid: m.StreamID}}}, nil
}

// telnyxEncoder sends PCMU in 20 ms media messages.
type telnyxEncoder struct{ sid string }

func (e *telnyxEncoder) Audio(pcm []int16) []Frame {
	var fr []Frame
	for _, c := range telnyxPCMU.chunks(newOutAudio(telnyxPCMU).encode(pcm), telnyxPCMU.bytesFor(20), 0) {
		fr = append(fr, jsonFrame(telnyxMsg{Event: "media", StreamID: e.sid, Media: &telnyxMedia{Payload: b64(c)}}))
	}
	return fr
}

func (e *telnyxEncoder) Mark(name string) []Frame {
	return []Frame{jsonFrame(telnyxMsg{Event: "mark", StreamID: e.sid, Mark: &telnyxMark{Name: name}})}
}

func (e *telnyxEncoder) Clear() Frame { return jsonFrame(telnyxMsg{Event: "clear", StreamID: e.sid}) }

// telnyxCaller plays Telnyx: PCMU in 20 ms media messages.
type telnyxCaller struct {
	cfg   CallerConfig
	seq   int64
	chunk int64
}

func newTelnyxCaller(cfg CallerConfig) *telnyxCaller { return &telnyxCaller{cfg: cfg} }

func (c *telnyxCaller) next() numStr { c.seq++; return mkNumStr(c.seq) }

func (c *telnyxCaller) FrameSamples() int { return SampleRate / 50 }

func (c *telnyxCaller) Open() []Frame {
	st := &telnyxStart{UserID: "telnyx-test", CallControlID: c.cfg.CallID, CallSessionID: c.cfg.CallID,
		From: "+13122010094", To: "+13122123456", CustomParams: c.cfg.Parameters}
	st.MediaFormat.Encoding, st.MediaFormat.SampleRate, st.MediaFormat.Channels = "PCMU", mkNum(8000), mkNum(1)
	return []Frame{jsonFrame(telnyxMsg{Event: "connected", Version: "1.0.0"}),
		jsonFrame(telnyxMsg{Event: "start", Sequence: c.next(), StreamID: c.cfg.StreamID, Start: st})}
}

func (c *telnyxCaller) Audio(pcm []int16) []Frame {
	c.chunk++
	return []Frame{jsonFrame(telnyxMsg{Event: "media", Sequence: c.next(), StreamID: c.cfg.StreamID, Media: &telnyxMedia{
		Track: "inbound", Chunk: mkNumStr(c.chunk), Timestamp: mkNumStr((c.chunk - 1) * 20),
		Payload: b64(newOutAudio(telnyxPCMU).encode(pcm))}})}
}

func (c *telnyxCaller) DTMF(digit string) []Frame {
	return []Frame{jsonFrame(telnyxMsg{Event: "dtmf", Sequence: c.next(), StreamID: c.cfg.StreamID, DTMF: &telnyxDTMF{Digit: digit}})}
}

func (c *telnyxCaller) Stop() []Frame {
	return []Frame{jsonFrame(telnyxMsg{Event: "stop", Sequence: c.next(), StreamID: c.cfg.StreamID,
		Stop: &telnyxStop{UserID: "telnyx-test", CallControlID: c.cfg.CallID}})}
}

func (c *telnyxCaller) Played(mark string) []Frame {
	return []Frame{jsonFrame(telnyxMsg{Event: "mark", Sequence: c.next(), StreamID: c.cfg.StreamID, Mark: &telnyxMark{Name: mark}})}
}

// Cleared returns the queued marks, as Telnyx does on clear.
func (c *telnyxCaller) Cleared(pending []string) []Frame {
	var fr []Frame
	for _, m := range pending {
		fr = append(fr, c.Played(m)...)
	}
	return fr
}

func (c *telnyxCaller) Read(f Frame) (Reply, error) {
	var m telnyxMsg
	if f.Binary {
		return Reply{}, fmt.Errorf("telnyx: binary message")
	}
	if err := decodeJSON("telnyx", f.Data, &m); err != nil {
		return Reply{}, err
	}
	switch m.Event {
	case "media":
		if m.Media == nil {
			return Reply{}, fmt.Errorf("telnyx: media without media")
		}
		b, err := payload("telnyx", m.Media.Payload, 30*8000, 1)
		if err != nil {
			return Reply{}, err
		}
		return Reply{Kind: ReplyAudio, Audio: newInAudio(telnyxPCMU).decode(b)}, nil
	case "mark":
		if m.Mark == nil {
			return Reply{}, fmt.Errorf("telnyx: mark without name")
		}
		return Reply{Kind: ReplyMark, Mark: m.Mark.Name}, nil
	case "clear":
		return Reply{Kind: ReplyClear}, nil
	}
	return Reply{}, fmt.Errorf("telnyx: unexpected event %q", truncate(m.Event))
}
