package carrier

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
)

// open decodes what a caller sends first and returns the stream's start.
func open(t *testing.T, p *Protocol, params map[string]string) (Decoder, Caller, *Start) {
	t.Helper()
	d, c := p.NewDecoder(), p.NewCaller(CallerConfig{CallID: "call-1", StreamID: "stream-1", Parameters: params})
	var st *Start
	for _, f := range c.Open() {
		evs, err := d.Decode(f)
		if err != nil {
			t.Fatalf("%s open: %v", p.Name, err)
		}
		for _, e := range evs {
			if e.Kind == KindStart {
				st = e.Start
			}
		}
	}
	if st == nil {
		t.Fatalf("%s: no start event", p.Name)
	}
	return d, c, st
}

func decodeAll(t *testing.T, d Decoder, frames []Frame) []Event {
	t.Helper()
	var out []Event
	for _, f := range frames {
		evs, err := d.Decode(f)
		if err != nil {
			t.Fatalf("decode %q: %v", f.Data, err)
		}
		out = append(out, evs...)
	}
	return out
}

// Every protocol carries a call both ways: start with the call's id and
// agent, caller audio, a key press, the agent's audio, marks and clear read
// back by the carrier's side, and stop.
func TestRoundTrip(t *testing.T) {
	for _, name := range Names() {
		p := Protocols()[name]
		t.Run(name, func(t *testing.T) {
			key := "agent_id"
			if p == Plivo {
				key = "agentId"
			}
			d, c, st := open(t, p, map[string]string{key: "a1"})
			if st.CallID != "call-1" || st.AgentID != "a1" || st.Encoder == nil {
				t.Fatalf("start %+v", st)
			}
			voice := Tone(dur(c.FrameSamples()), 300, 8000)
			evs := decodeAll(t, d, c.Audio(voice))
			if len(evs) != 1 || evs[0].Kind != KindAudio || !Voiced(evs[0].Audio) {
				t.Fatalf("audio events %+v", evs)
			}
			if got, want := len(evs[0].Audio), len(voice); got < want*3/4 || got > want {
				t.Fatalf("%d samples decoded from %d", got, want)
			}
			evs = decodeAll(t, d, c.DTMF("#"))
			if len(evs) != 1 || evs[0].Kind != KindDTMF || evs[0].Digit != "#" {
				t.Fatalf("dtmf events %+v", evs)
			}

			// The agent's side, read by the carrier.
			var heard int
			for _, f := range st.Encoder.Audio(Tone(200*msec, 440, 8000)) {
				r, err := c.Read(f)
				if err != nil || r.Kind != ReplyAudio {
					t.Fatalf("read agent audio: %+v %v", r, err)
				}
				heard += len(r.Audio)
			}
			if heard < 1400 || heard > 1700 {
				t.Fatalf("carrier heard %d samples of 1600", heard)
			}
			mark := st.Encoder.Mark("m1")
			for _, f := range mark[:len(mark)-1] { // audio held back for a whole frame
				if r, err := c.Read(f); err != nil || r.Kind != ReplyAudio {
					t.Fatalf("read held audio: %+v %v", r, err)
				}
			}
			if r, err := c.Read(mark[len(mark)-1]); err != nil || r.Kind != ReplyMark || r.Mark != "m1" {
				t.Fatalf("read mark: %+v %v", r, err)
			}
			if r, err := c.Read(st.Encoder.Clear()); err != nil || r.Kind != ReplyClear {
				t.Fatalf("read clear: %+v %v", r, err)
			}
			evs = decodeAll(t, d, c.Played("m1"))
			if len(evs) != 1 || evs[0].Kind != KindMark || evs[0].Mark != "m1" {
				t.Fatalf("mark events %+v", evs)
			}
			evs = decodeAll(t, d, c.Cleared([]string{"m2"}))
			if len(evs) != 1 || !(evs[0].Kind == KindMark && evs[0].Mark == "m2" || evs[0].Kind == KindCleared) {
				t.Fatalf("cleared events %+v", evs)
			}
			if fr := c.Stop(); fr != nil {
				evs = decodeAll(t, d, fr)
				if len(evs) != 1 || evs[0].Kind != KindStop {
					t.Fatalf("stop events %+v", evs)
				}
			} else if p != Plivo && p != Vonage {
				t.Fatalf("%s has a stop message", name)
			}
		})
	}
}

// The agent's audio is framed as each carrier wants it.
func TestEncoderFraming(t *testing.T) {
	pcm := Tone(330*msec, 440, 8000) // not a whole number of frames
	for _, tt := range []struct {
		p    *Protocol
		want func(t *testing.T, f Frame)
	}{
		{Exotel, func(t *testing.T, f Frame) {
			b := payloadOf(t, f)
			if len(b)%ExotelChunkUnit != 0 || len(b) > exotelOutChunk {
				t.Fatalf("exotel chunk of %d bytes", len(b))
			}
		}},
		{Vonage, func(t *testing.T, f Frame) {
			if !f.Binary || len(f.Data) != VonageFrameBytes {
				t.Fatalf("vonage frame binary=%v of %d bytes", f.Binary, len(f.Data))
			}
		}},
		{Telnyx, func(t *testing.T, f Frame) {
			if b := payloadOf(t, f); len(b) > 160 || !strings.Contains(string(f.Data), `"stream_id":"stream-1"`) {
				t.Fatalf("telnyx media %s", f.Data)
			}
		}},
		{Plivo, func(t *testing.T, f Frame) {
			if !strings.Contains(string(f.Data), `"event":"playAudio"`) || !strings.Contains(string(f.Data), `"contentType":"audio/x-mulaw"`) {
				t.Fatalf("plivo playAudio %s", f.Data)
			}
		}},
	} {
		t.Run(tt.p.Name, func(t *testing.T) {
			_, _, st := open(t, tt.p, nil)
			frames := st.Encoder.Audio(pcm)
			if len(frames) == 0 {
				t.Fatal("no frames")
			}
			for _, f := range frames {
				tt.want(t, f)
			}
			// What was held back for a whole frame goes before a mark.
			mark := st.Encoder.Mark("m")
			for _, f := range mark[:len(mark)-1] {
				tt.want(t, f)
			}
		})
	}
}

func payloadOf(t *testing.T, f Frame) []byte {
	t.Helper()
	s := string(f.Data)
	i := strings.Index(s, `"payload":"`)
	if i < 0 {
		t.Fatalf("no payload in %s", s)
	}
	s = s[i+len(`"payload":"`):]
	b, err := base64.StdEncoding.DecodeString(s[:strings.IndexByte(s, '"')])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every frame that breaks a protocol is a *ProtocolError with a reason.
func TestBadFrames(t *testing.T) {
	slin := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	tests := []struct {
		p      *Protocol
		name   string
		start  bool
		frame  Frame
		reason string
	}{
		{Exotel, "malformed json", true, Text([]byte(`{"event":`)), "malformed JSON"},
		{Exotel, "media before start", false, Text([]byte(`{"event":"media","media":{"payload":"` + slin(320) + `"}}`)), "before start"},
		{Exotel, "chunk not a multiple of 320", true, Text([]byte(`{"event":"media","sequence_number":"9","media":{"payload":"` + slin(500) + `"}}`)), "multiple of 320"},
		{Exotel, "bad base64", true, Text([]byte(`{"event":"media","sequence_number":"9","media":{"payload":"***"}}`)), "not base64"},
		{Exotel, "out of order", true, Text([]byte(`{"event":"media","sequence_number":"1","media":{"payload":"` + slin(320) + `"}}`)), "out-of-order"},
		{Exotel, "oversize payload", true, Text([]byte(`{"event":"media","sequence_number":"9","media":{"payload":"` + slin(32000) + `"}}`)), "exceeds"},
		{Exotel, "unknown event", true, Text([]byte(`{"event":"hello","sequence_number":"9"}`)), "unknown event"},
		{Exotel, "bad rate", false, Text([]byte(`{"event":"start","start":{"stream_sid":"s","media_format":{"sample_rate":"11025"}}}`)), "unsupported media format"},
		{Exotel, "bad digit", true, Text([]byte(`{"event":"dtmf","sequence_number":"9","dtmf":{"digit":"x"}}`)), "dtmf"},
		{Plivo, "second start", true, Text([]byte(`{"event":"start","sequenceNumber":9,"start":{"streamId":"s","mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000}}}`)), "second start"},
		{Plivo, "odd l16 payload", false, Text([]byte(`{"event":"start","start":{"streamId":"s","mediaFormat":{"encoding":"audio/x-l16","sampleRate":8000}}}`)), ""},
		{Plivo, "bad format", false, Text([]byte(`{"event":"start","start":{"streamId":"s","mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":16000}}}`)), "unsupported media format"},
		{Plivo, "out of order", true, Text([]byte(`{"event":"dtmf","sequenceNumber":1,"dtmf":{"digit":"1"}}`)), "out-of-order"},
		{Plivo, "sequence not a number", true, Text([]byte(`{"event":"dtmf","sequenceNumber":"x","dtmf":{"digit":"1"}}`)), "malformed JSON"},
		{Telnyx, "duplicate sequence", true, Text([]byte(`{"event":"media","sequence_number":"9","media":{"payload":"/w=="}}`)), ""},
		{Telnyx, "media without media", true, Text([]byte(`{"event":"media","sequence_number":"10"}`)), "without media"},
		{Telnyx, "bad codec", false, Text([]byte(`{"event":"start","stream_id":"s","start":{"media_format":{"encoding":"OPUS","sample_rate":16000}}}`)), "unsupported media format"},
		{Vonage, "binary before connected", false, Frame{Binary: true, Data: make([]byte, 640)}, "before websocket:connected"},
		{Vonage, "wrong frame size", true, Frame{Binary: true, Data: make([]byte, 320)}, "want 640"},
		{Vonage, "bad content type", false, Text([]byte(`{"event":"websocket:connected","content-type":"audio/opus"}`)), "content-type"},
		{Vonage, "bad notify", true, Text([]byte(`{"event":"websocket:notify","payload":7}`)), "notify"},
		{Twilio, "bad base64", true, Text([]byte(`{"event":"media","media":{"payload":"***"}}`)), "not base64"},
	}
	for _, tt := range tests {
		t.Run(tt.p.Name+"/"+tt.name, func(t *testing.T) {
			var d Decoder
			if tt.start {
				d, _, _ = open(t, tt.p, nil)
			} else {
				d = tt.p.NewDecoder()
			}
			_, err := d.Decode(tt.frame)
			if tt.name == "duplicate sequence" {
				// Telnyx holds a frame waiting for its predecessor: a
				// second copy of it breaks the protocol.
				if err != nil {
					t.Fatal(err)
				}
				_, err = d.Decode(tt.frame)
				tt.reason = "duplicate"
			}
			if tt.name == "odd l16 payload" {
				if err != nil {
					t.Fatal(err)
				}
				_, err = d.Decode(Text([]byte(`{"event":"media","media":{"payload":"AAAA"}}`)))
				tt.reason = "multiple of 2"
			}
			var pe *ProtocolError
			if !errors.As(err, &pe) || !strings.Contains(pe.Reason, tt.reason) {
				t.Fatalf("Decode(%s) = %v; want a protocol error about %q", tt.frame.Data, err, tt.reason)
			}
		})
	}
}

// Telnyx frames out of order are played in sequence_number order; a gap
// longer than the window is given up; stop plays what is held first.
func TestTelnyxReorder(t *testing.T) {
	d, c, _ := open(t, Telnyx, nil)
	var frames []Frame
	for i := range 6 {
		frames = append(frames, c.Audio(Tone(20*msec, 100+float64(i)*100, 8000))...)
	}
	want := decodeAll(t, Telnyx.NewDecoderStarted(t), frames)
	// Swap pairs: 1 0 3 2 5 4.
	shuffled := []Frame{frames[1], frames[0], frames[3], frames[2], frames[5], frames[4]}
	got := decodeAll(t, d, shuffled)
	if len(got) != len(want) {
		t.Fatalf("%d events after reordering; want %d", len(got), len(want))
	}
	for i := range got {
		if !slices.Equal(got[i].Audio, want[i].Audio) {
			t.Fatalf("event %d out of order", i)
		}
	}

	// A lost frame: the ones after it wait for the window, then go on.
	var more []Frame
	for range TelnyxReorderWindow + 2 {
		more = append(more, c.Audio(Tone(20*msec, 300, 8000))...)
	}
	got = decodeAll(t, d, more[1:])
	if len(got) != len(more)-1 {
		t.Fatalf("after a lost frame %d events; want %d", len(got), len(more)-1)
	}
	// The lost frame arriving late is dropped, not played out of order.
	if late := decodeAll(t, d, more[:1]); len(late) != 0 {
		t.Fatalf("late frame played: %+v", late)
	}
	// At stop, frames held for a missing one play, then the stream stops.
	_ = c.Audio(Tone(20*msec, 300, 8000)) // lost
	b := c.Audio(Tone(20*msec, 300, 8000))
	got = decodeAll(t, d, b)
	if len(got) != 0 {
		t.Fatalf("frame after a gap played at once: %+v", got)
	}
	got = decodeAll(t, d, c.Stop())
	if len(got) != 2 || got[0].Kind != KindAudio || got[1].Kind != KindStop {
		t.Fatalf("stop with a frame held: %+v", got)
	}
}

// Agent audio in pieces that are not whole frames plays without gaps:
// Exotel's encoder holds what is short of a 320-byte unit for the next
// piece and pads it only before a mark or on Flush (Vonage's does the
// same with its 640-byte frames).
func TestEncoderCarriesRemainder(t *testing.T) {
	_, _, st := open(t, Exotel, nil)
	var total int
	for range 10 {
		for _, f := range st.Encoder.Audio(Tone(7*msec, 440, 8000)) { // 112 bytes
			total += len(payloadOf(t, f))
		}
	}
	if total != 1120/ExotelChunkUnit*ExotelChunkUnit {
		t.Fatalf("sent %d bytes of 1120 before the mark; want the whole 320-byte units", total)
	}
	for _, f := range st.Encoder.Mark("m") {
		if strings.Contains(string(f.Data), `"media"`) {
			total += len(payloadOf(t, f))
		}
	}
	if total != 1280 {
		t.Fatalf("sent %d bytes with the mark; want 1120 padded to 1280", total)
	}
	_ = st.Encoder.Audio(Tone(7*msec, 440, 8000))
	fl := st.Encoder.(Flusher).Flush()
	if len(fl) != 1 || len(payloadOf(t, fl[0])) != ExotelChunkUnit {
		t.Fatalf("flush sent %d frames; want the 112 bytes held padded to 320", len(fl))
	}
	if fl := st.Encoder.(Flusher).Flush(); len(fl) != 0 {
		t.Fatalf("a second flush sent %d frames", len(fl))
	}
}

// No input makes a decoder panic.
func FuzzDecode(f *testing.F) {
	for _, name := range Names() {
		c := Protocols()[name].NewCaller(CallerConfig{CallID: "c", StreamID: "s", Parameters: map[string]string{"agent_id": "a"}})
		for _, fr := range append(append(c.Open(), c.Audio(make([]int16, c.FrameSamples()))...), c.DTMF("1")...) {
			f.Add(name, fr.Binary, fr.Data)
		}
	}
	f.Add("vonage", true, make([]byte, 641))
	f.Add("telnyx", false, []byte(`{"event":"media","sequence_number":"99999999999999999999"}`))
	f.Fuzz(func(t *testing.T, name string, binary bool, data []byte) {
		p, ok := Protocols()[name]
		if !ok {
			return
		}
		d := p.NewDecoder()
		c := p.NewCaller(CallerConfig{CallID: "c", StreamID: "s"})
		for _, fr := range c.Open() {
			_, _ = d.Decode(fr)
		}
		_, err := d.Decode(Frame{Binary: binary, Data: data})
		var pe *ProtocolError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("%s: error %v is not a *ProtocolError", name, err)
		}
	})
}
