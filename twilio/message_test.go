package twilio

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const (
	startJSON = `{"event":"start","sequenceNumber":"1","streamSid":"MZ1","start":{"accountSid":"AC1","streamSid":"MZ1","callSid":"CA1","tracks":["inbound"],"customParameters":{"agent":"a1"},"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}`
	mediaJSON = `{"event":"media","sequenceNumber":"2","streamSid":"MZ1","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"//8="}}`
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		event   string
		wantErr string // substring of the ProtocolError reason; "" for success
	}{
		{"connected", `{"event":"connected","protocol":"Call","version":"1.0.0"}`, EventConnected, ""},
		{"start", startJSON, EventStart, ""},
		{"media", mediaJSON, EventMedia, ""},
		{"media not frame multiple", `{"event":"media","media":{"payload":"AAAA"}}`, EventMedia, ""},
		{"dtmf", `{"event":"dtmf","dtmf":{"track":"inbound_track","digit":"#"}}`, EventDTMF, ""},
		{"mark", `{"event":"mark","mark":{"name":"greeting"}}`, EventMark, ""},
		{"stop", `{"event":"stop","stop":{"callSid":"CA1"}}`, EventStop, ""},
		{"unknown fields tolerated", `{"event":"stop","extra":{"x":1}}`, EventStop, ""},

		{"malformed json", `{"event":`, "", "malformed JSON"},
		{"not an object", `[1,2]`, "", "malformed JSON"},
		{"trailing data", `{"event":"stop"} {}`, "", "trailing data"},
		{"wrong type", `{"event":5}`, "", "malformed JSON"},
		{"no event", `{}`, "", "without event"},
		{"unknown event", `{"event":"hello"}`, "", "unknown event"},
		{"outbound clear inbound", `{"event":"clear"}`, "", "unknown event"},
		{"start without body", `{"event":"start"}`, "", "without start"},
		{"start bad format", strings.Replace(startJSON, "8000", "16000", 1), "", "unsupported media format"},
		{"start no stream", strings.Replace(startJSON, `"streamSid":"MZ1","callSid"`, `"streamSid":"","callSid"`, 1), "", "bad streamSid"},
		{"media without body", `{"event":"media"}`, "", "without media"},
		{"bad base64", `{"event":"media","media":{"payload":"!!!"}}`, "", "not base64"},
		{"payload too big", `{"event":"media","media":{"payload":"` + strings.Repeat("AAAA", 3000) + `"}}`, "", "exceeds"},
		{"bad digit", `{"event":"dtmf","dtmf":{"digit":"x"}}`, "", "dtmf digit"},
		{"two digits", `{"event":"dtmf","dtmf":{"digit":"12"}}`, "", "dtmf digit"},
		{"mark without name", `{"event":"mark","mark":{}}`, "", "valid name"},
		{"message too big", `{"event":"stop","x":"` + strings.Repeat("a", MaxMessageSize) + `"}`, "", "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse([]byte(tt.in))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if m.Event != tt.event {
					t.Fatalf("event = %q; want %q", m.Event, tt.event)
				}
				return
			}
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse err = %v; want *ProtocolError", err)
			}
			if !strings.Contains(pe.Reason, tt.wantErr) {
				t.Fatalf("reason = %q; want it to contain %q", pe.Reason, tt.wantErr)
			}
		})
	}
}

func TestParseDecodesPayload(t *testing.T) {
	m, err := Parse([]byte(mediaJSON))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.Media.Audio, []byte{0xFF, 0xFF}) {
		t.Fatalf("audio = %x", m.Media.Audio)
	}
	s, err := Parse([]byte(startJSON))
	if err != nil {
		t.Fatal(err)
	}
	if s.Start.CallSID != "CA1" || s.Start.CustomParameters["agent"] != "a1" {
		t.Fatalf("start = %+v", s.Start)
	}
}

func TestOutboundMessages(t *testing.T) {
	for _, tt := range []struct {
		m    Message
		want string
	}{
		{OutboundMedia("MZ1", []byte{0xFF, 0xFF}), `{"event":"media","streamSid":"MZ1","media":{"payload":"//8="}}`},
		{OutboundMark("MZ1", "g"), `{"event":"mark","streamSid":"MZ1","mark":{"name":"g"}}`},
		{OutboundClear("MZ1"), `{"event":"clear","streamSid":"MZ1"}`},
	} {
		b, err := json.Marshal(tt.m)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.want {
			t.Errorf("got  %s\nwant %s", b, tt.want)
		}
	}
}

// FuzzTwilioMessage checks that the inbound parser never panics, returns
// only protocol errors, and that what it accepts survives a re-encode.
func FuzzTwilioMessage(f *testing.F) {
	for _, s := range []string{
		startJSON, mediaJSON,
		`{"event":"connected","protocol":"Call","version":"1.0.0"}`,
		`{"event":"dtmf","dtmf":{"digit":"#"}}`,
		`{"event":"mark","mark":{"name":"x"}}`,
		`{"event":"stop"}`,
		`{"event":"media","media":{"payload":"!!"}}`,
		`{"event":"nope"}`, `{`, `null`, `""`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ProtocolError", err)
			}
			if pe.Error() == "" {
				t.Fatal("empty error text")
			}
			return
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("re-encode accepted message: %v", err)
		}
		m2, err := Parse(b)
		if err != nil {
			t.Fatalf("re-encoded message rejected: %v\n%s", err, b)
		}
		if m2.Event != m.Event {
			t.Fatalf("event changed: %q → %q", m.Event, m2.Event)
		}
		if m.Media != nil && !bytes.Equal(m.Media.Audio, m2.Media.Audio) {
			t.Fatal("audio changed across re-encode")
		}
	})
}
