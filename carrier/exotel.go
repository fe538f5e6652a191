package carrier

import (
	"fmt"
	"strconv"
)

// Exotel is Exotel's AgentStream (Voicebot applet) protocol.
var Exotel = &Protocol{
	Name:           "exotel",
	MaxMessageSize: 48 << 10,
	NewDecoder:     func() Decoder { return &exotelDecoder{seq: sequence{carrier: "exotel"}} },
	NewCaller:      func(cfg CallerConfig) Caller { return newExotelCaller(cfg) },
}

// Exotel's audio framing: every chunk, either way, is a multiple of 320
// bytes (20 ms at 8 kHz). The agent's go at most 100 ms (3200 bytes) at a
// time, as soon as they are whole 320-byte units: Exotel recommends
// chunks of at least 100 ms against network jitter, but holding the
// agent's first words back for it would add up to 100 ms to every reply.
const (
	ExotelChunkUnit = 320
	exotelOutChunk  = 3200
)

type exotelMsg struct {
	Event    string       `json:"event"`
	Sequence numStr       `json:"sequence_number,omitzero"`
	StreamID string       `json:"stream_sid,omitempty"`
	Start    *exotelStart `json:"start,omitempty"`
	Media    *exotelMedia `json:"media,omitempty"`
	DTMF     *exotelDTMF  `json:"dtmf,omitempty"`
	Mark     *exotelMark  `json:"mark,omitempty"`
	Stop     *exotelStop  `json:"stop,omitempty"`
}

type exotelStart struct {
	StreamID     string            `json:"stream_sid"`
	CallID       string            `json:"call_sid"`
	AccountID    string            `json:"account_sid,omitempty"`
	From         string            `json:"from,omitempty"`
	To           string            `json:"to,omitempty"`
	CustomParams map[string]string `json:"custom_parameters,omitempty"`
	MediaFormat  struct {
		Encoding   string `json:"encoding"`
		SampleRate numStr `json:"sample_rate"`
		BitRate    numStr `json:"bit_rate"`
	} `json:"media_format"`
}

type exotelMedia struct {
	Chunk     numStr `json:"chunk,omitzero"`
	Timestamp numStr `json:"timestamp,omitzero"`
	Payload   string `json:"payload"`
}

type exotelDTMF struct {
	Digit    string `json:"digit"`
	Duration numStr `json:"duration,omitzero"`
}

type exotelMark struct {
	Name string `json:"name"`
}

type exotelStop struct {
	CallID    string `json:"call_sid,omitempty"`
	AccountID string `json:"account_sid,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

type exotelDecoder struct {
	seq     sequence
	started bool
	in      *inAudio
}

func (d *exotelDecoder) Decode(f Frame) ([]Event, error) {
	const c = "exotel"
	var m exotelMsg
	if err := decodeJSON(c, f.Data, &m); err != nil {
		return nil, err
	}
	if err := checkID(c, "stream_sid", m.StreamID, false); err != nil {
		return nil, err
	}
	if m.Event != "connected" {
		if err := d.seq.check(m.Sequence.num); err != nil {
			return nil, err
		}
	}
	if !d.started && m.Event != "connected" && m.Event != "start" && m.Event != "" {
		return nil, protoErr(c, nil, "%s before start", truncate(m.Event))
	}
	switch m.Event {
	case "connected":
		return nil, nil
	case "start":
		return d.start(m.Start)
	case "media":
		if m.Media == nil {
			return nil, protoErr(c, nil, "media message without media")
		}
		b, err := payload(c, m.Media.Payload, d.in.f.maxPayload(), ExotelChunkUnit)
		if err != nil {
			return nil, err
		}
		return []Event{{Kind: KindAudio, Audio: d.in.decode(b)}}, nil
	case "dtmf":
		if m.DTMF == nil || !validDigit(m.DTMF.Digit) {
			return nil, protoErr(c, nil, "bad dtmf digit")
		}
		return []Event{{Kind: KindDTMF, Digit: m.DTMF.Digit}}, nil
	case "mark":
		if m.Mark == nil || m.Mark.Name == "" || len(m.Mark.Name) > maxMarkName {
			return nil, protoErr(c, nil, "mark message without a valid name")
		}
		return []Event{{Kind: KindMark, Mark: m.Mark.Name}}, nil
	case "stop":
		return []Event{{Kind: KindStop}}, nil
	case "":
		return nil, protoErr(c, nil, "message without event")
	}
	return nil, protoErr(c, nil, "unknown event %q", truncate(m.Event))
}

func (d *exotelDecoder) start(s *exotelStart) ([]Event, error) {
	const c = "exotel"
	switch {
	case d.started:
		return nil, protoErr(c, nil, "second start")
	case s == nil:
		return nil, protoErr(c, nil, "start message without start")
	}
	if err := checkID(c, "stream_sid", s.StreamID, true); err != nil {
		return nil, err
	}
	if err := checkID(c, "call_sid", s.CallID, false); err != nil {
		return nil, err
	}
	if err := checkParams(c, s.CustomParams); err != nil {
		return nil, err
	}
	f := s.MediaFormat
	rate := int(f.SampleRate.v)
	if !f.SampleRate.set {
		rate = SampleRate
	}
	if rate != 8000 && rate != 16000 && rate != 24000 || f.BitRate.set && f.BitRate.v != 16 {
		return nil, protoErr(c, nil, "unsupported media format %q/%d/%d", truncate(f.Encoding), f.SampleRate.v, f.BitRate.v)
	}
	fm := format{enc: l16, rate: rate}
	d.started, d.in = true, newInAudio(fm)
	id := s.CallID
	if id == "" {
		id = s.StreamID
	}
	return []Event{{Kind: KindStart, Start: &Start{CallID: id, StreamID: s.StreamID, AgentID: s.CustomParams["agent_id"],
		Parameters: s.CustomParams, Encoder: &exotelEncoder{sid: s.StreamID, f: fm, out: newOutAudio(fm)}}}}, nil
}

// exotelEncoder sends whole 320-byte units; a remainder waits for the next
// audio, or goes padded before a mark or on Flush.
type exotelEncoder struct {
	sid  string
	f    format
	out  *outAudio
	rest units
}

func (e *exotelEncoder) media(b []byte) []Frame {
	var fr []Frame
	for _, c := range e.f.chunks(b, exotelOutChunk, ExotelChunkUnit) {
		fr = append(fr, jsonFrame(exotelMsg{Event: "media", StreamID: e.sid, Media: &exotelMedia{Payload: b64(c)}}))
	}
	return fr
}

func (e *exotelEncoder) Audio(pcm []int16) []Frame {
	return e.media(e.rest.whole(e.out.encode(pcm), ExotelChunkUnit))
}

func (e *exotelEncoder) Mark(name string) []Frame {
	return append(e.media(e.rest.flush()), jsonFrame(exotelMsg{Event: "mark", StreamID: e.sid, Mark: &exotelMark{Name: name}}))
}

func (e *exotelEncoder) Flush() []Frame { return e.media(e.rest.flush()) }

func (e *exotelEncoder) Clear() Frame {
	e.rest.flush()
	return jsonFrame(exotelMsg{Event: "clear", StreamID: e.sid})
}

// exotelCaller plays Exotel: 100 ms chunks of slin, as Exotel streams.
type exotelCaller struct {
	cfg   CallerConfig
	seq   int64
	chunk int64
	f     format
}

func newExotelCaller(cfg CallerConfig) *exotelCaller {
	return &exotelCaller{cfg: cfg, f: format{enc: l16, rate: SampleRate}}
}

func (c *exotelCaller) next() numStr { c.seq++; return mkNumStr(c.seq) }

func (c *exotelCaller) FrameSamples() int { return SampleRate / 10 }

func (c *exotelCaller) Open() []Frame {
	st := &exotelStart{StreamID: c.cfg.StreamID, CallID: c.cfg.CallID, AccountID: "exotel-test",
		From: "+919876543210", To: "+918047491899", CustomParams: c.cfg.Parameters}
	st.MediaFormat.Encoding, st.MediaFormat.SampleRate, st.MediaFormat.BitRate = "audio/x-raw", mkNumStr(8000), mkNumStr(16)
	return []Frame{jsonFrame(exotelMsg{Event: "connected"}),
		jsonFrame(exotelMsg{Event: "start", Sequence: c.next(), StreamID: c.cfg.StreamID, Start: st})}
}

func (c *exotelCaller) Audio(pcm []int16) []Frame {
	c.chunk++
	b := newOutAudio(c.f).encode(pcm)
	return []Frame{jsonFrame(exotelMsg{Event: "media", Sequence: c.next(), StreamID: c.cfg.StreamID,
		Media: &exotelMedia{Chunk: mkNumStr(c.chunk), Timestamp: mkNumStr((c.chunk - 1) * 100), Payload: b64(b)}})}
}

func (c *exotelCaller) DTMF(digit string) []Frame {
	return []Frame{jsonFrame(exotelMsg{Event: "dtmf", Sequence: c.next(), StreamID: c.cfg.StreamID,
		DTMF: &exotelDTMF{Digit: digit, Duration: mkNumStr(100)}})}
}

func (c *exotelCaller) Stop() []Frame {
	return []Frame{jsonFrame(exotelMsg{Event: "stop", Sequence: c.next(), StreamID: c.cfg.StreamID,
		Stop: &exotelStop{CallID: c.cfg.CallID, Reason: "callended"}})}
}

func (c *exotelCaller) Played(mark string) []Frame {
	return []Frame{jsonFrame(exotelMsg{Event: "mark", Sequence: c.next(), StreamID: c.cfg.StreamID, Mark: &exotelMark{Name: mark}})}
}

// Cleared echoes the pending marks, as Exotel (like Twilio) does.
func (c *exotelCaller) Cleared(pending []string) []Frame {
	var fr []Frame
	for _, m := range pending {
		fr = append(fr, c.Played(m)...)
	}
	return fr
}

func (c *exotelCaller) Read(f Frame) (Reply, error) {
	var m exotelMsg
	if f.Binary {
		return Reply{}, fmt.Errorf("exotel: binary message")
	}
	if err := decodeJSON("exotel", f.Data, &m); err != nil {
		return Reply{}, err
	}
	switch m.Event {
	case "media":
		if m.Media == nil {
			return Reply{}, fmt.Errorf("exotel: media without media")
		}
		b, err := payload("exotel", m.Media.Payload, 100<<10, ExotelChunkUnit)
		if err != nil {
			return Reply{}, err
		}
		return Reply{Kind: ReplyAudio, Audio: newInAudio(c.f).decode(b)}, nil
	case "mark":
		if m.Mark == nil {
			return Reply{}, fmt.Errorf("exotel: mark without name")
		}
		return Reply{Kind: ReplyMark, Mark: m.Mark.Name}, nil
	case "clear":
		return Reply{Kind: ReplyClear}, nil
	}
	return Reply{}, fmt.Errorf("exotel: unexpected event %s", strconv.Quote(truncate(m.Event)))
}
