package carrier

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/voxplatform/vox/twilio"
)

// Twilio is Twilio Media Streams (package twilio), so one stream leg
// serves every carrier.
var Twilio = &Protocol{
	Name:           "twilio",
	MaxMessageSize: twilio.MaxMessageSize,
	NewDecoder:     func() Decoder { return &twilioDecoder{} },
	NewCaller:      func(cfg CallerConfig) Caller { return &twilioCaller{cfg: cfg} },
}

type twilioDecoder struct{ started bool }

func (d *twilioDecoder) Decode(f Frame) ([]Event, error) {
	m, err := twilio.Parse(f.Data)
	if err != nil {
		var pe *twilio.ProtocolError
		if errors.As(err, &pe) {
			return nil, &ProtocolError{Carrier: "twilio", Reason: pe.Reason, Err: pe.Err}
		}
		return nil, protoErr("twilio", err, "bad message")
	}
	if !d.started && m.Event != twilio.EventConnected && m.Event != twilio.EventStart {
		return nil, protoErr("twilio", nil, "%s before start", m.Event)
	}
	switch m.Event {
	case twilio.EventStart:
		if d.started {
			return nil, protoErr("twilio", nil, "second start")
		}
		d.started = true
		st := m.Start
		id := st.CallSID
		if id == "" {
			id = st.StreamSID
		}
		return []Event{{Kind: KindStart, Start: &Start{CallID: id, StreamID: st.StreamSID,
			AgentID: st.CustomParameters["agent_id"], Parameters: st.CustomParameters, Encoder: twilioEncoder{sid: st.StreamSID}}}}, nil
	case twilio.EventMedia:
		if m.Media.Track != "" && m.Media.Track != "inbound" {
			return nil, nil
		}
		return []Event{{Kind: KindAudio, Audio: twilio.DecodeMulaw(nil, m.Media.Audio)}}, nil
	case twilio.EventDTMF:
		return []Event{{Kind: KindDTMF, Digit: m.DTMF.Digit}}, nil
	case twilio.EventMark:
		return []Event{{Kind: KindMark, Mark: m.Mark.Name}}, nil
	case twilio.EventStop:
		return []Event{{Kind: KindStop}}, nil
	}
	return nil, nil // connected
}

// twilioEncoder sends mu-law in 20 ms media messages.
type twilioEncoder struct{ sid string }

func (e twilioEncoder) Audio(pcm []int16) []Frame {
	buf := twilio.EncodeMulaw(make([]byte, 0, len(pcm)), pcm)
	var fr []Frame
	for len(buf) > 0 {
		n := min(twilio.FrameBytes, len(buf))
		fr = append(fr, jsonFrame(twilio.OutboundMedia(e.sid, buf[:n])))
		buf = buf[n:]
	}
	return fr
}

func (e twilioEncoder) Mark(name string) []Frame {
	return []Frame{jsonFrame(twilio.OutboundMark(e.sid, name))}
}

func (e twilioEncoder) Clear() Frame { return jsonFrame(twilio.OutboundClear(e.sid)) }

// twilioCaller plays Twilio with the twilio package's messages.
type twilioCaller struct {
	cfg   CallerConfig
	seq   int
	chunk int
}

func (c *twilioCaller) msg(m twilio.Message) Frame {
	c.seq++
	m.SequenceNumber, m.StreamSID = strconv.Itoa(c.seq), c.cfg.StreamID
	return jsonFrame(m)
}

func (c *twilioCaller) FrameSamples() int { return twilio.FrameBytes }

func (c *twilioCaller) Open() []Frame {
	return []Frame{jsonFrame(twilio.Message{Event: twilio.EventConnected, Protocol: "Call", Version: "1.0.0"}),
		c.msg(twilio.Message{Event: twilio.EventStart, Start: &twilio.Start{AccountSID: "AC00000000000000000000000000000000",
			StreamSID: c.cfg.StreamID, CallSID: c.cfg.CallID, Tracks: []string{"inbound"}, CustomParameters: c.cfg.Parameters,
			MediaFormat: twilio.MediaFormat{Encoding: twilio.Encoding, SampleRate: twilio.SampleRate, Channels: twilio.Channels}}})}
}

func (c *twilioCaller) Audio(pcm []int16) []Frame {
	c.chunk++
	return []Frame{c.msg(twilio.Message{Event: twilio.EventMedia, Media: &twilio.Media{Track: "inbound",
		Chunk: strconv.Itoa(c.chunk), Timestamp: strconv.Itoa((c.chunk - 1) * 20),
		Payload: b64(twilio.EncodeMulaw(nil, pcm))}})}
}

func (c *twilioCaller) DTMF(digit string) []Frame {
	return []Frame{c.msg(twilio.Message{Event: twilio.EventDTMF, DTMF: &twilio.DTMF{Track: "inbound_track", Digit: digit}})}
}

func (c *twilioCaller) Stop() []Frame {
	return []Frame{c.msg(twilio.Message{Event: twilio.EventStop, Stop: &twilio.Stop{CallSID: c.cfg.CallID}})}
}

func (c *twilioCaller) Played(mark string) []Frame {
	return []Frame{jsonFrame(twilio.OutboundMark(c.cfg.StreamID, mark))}
}

func (c *twilioCaller) Cleared(pending []string) []Frame {
	var fr []Frame
	for _, m := range pending {
		fr = append(fr, c.Played(m)...)
	}
	return fr
}

func (c *twilioCaller) Read(f Frame) (Reply, error) {
	var m twilio.Message
	if f.Binary {
		return Reply{}, fmt.Errorf("twilio: binary message")
	}
	if err := decodeJSON("twilio", f.Data, &m); err != nil {
		return Reply{}, err
	}
	switch m.Event {
	case twilio.EventMedia:
		if m.Media == nil {
			return Reply{}, fmt.Errorf("twilio: media without media")
		}
		b, err := payload("twilio", m.Media.Payload, twilio.MaxPayloadBytes, 1)
		if err != nil {
			return Reply{}, err
		}
		return Reply{Kind: ReplyAudio, Audio: twilio.DecodeMulaw(nil, b)}, nil
	case twilio.EventMark:
		if m.Mark == nil {
			return Reply{}, fmt.Errorf("twilio: mark without name")
		}
		return Reply{Kind: ReplyMark, Mark: m.Mark.Name}, nil
	case twilio.EventClear:
		return Reply{Kind: ReplyClear}, nil
	}
	return Reply{}, fmt.Errorf("twilio: unexpected event %q", truncate(m.Event))
}
