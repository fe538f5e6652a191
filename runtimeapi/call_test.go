package runtimeapi

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCallRecordValidate(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("x", 3600))
	ok := func() CallRecord {
		d := 3.5
		return CallRecord{AgentID: "0123456789abcdef01234567", Status: CallCompleted, Direction: Inbound,
			Carrier: CarrierSIP, From: "+14155552671", To: "sip:agent@example.com", EndCause: EndCallerHangup,
			SIPStatus: 200, FleetURL: "https://fleet.example.com/", RecordingKey: "recordings/o/2026/03/01/c1.wav",
			StartedAt: at, DurationSeconds: &d, Fields: map[string]string{"name": "Ann"},
			Transcript: []TranscriptEntry{
				{Seq: 1, Speaker: SpeakerCaller, Text: "Hi", At: at},
				{Seq: 0, Speaker: SpeakerAgent, Text: "Hello", At: at, Latency: &TurnLatency{ResponseMS: 120}},
			}}
	}
	r := ok()
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if r.FleetURL != "https://fleet.example.com" || r.StartedAt.Location() != time.UTC || r.Transcript[0].Seq != 0 {
		t.Fatalf("not normalised: %+v", r)
	}
	neg := -1.0
	for _, tt := range []struct {
		field string
		edit  func(*CallRecord)
	}{
		{"status", func(r *CallRecord) { r.Status = "answered" }},
		{"agent_id", func(r *CallRecord) { r.AgentID = "x" }},
		{"direction", func(r *CallRecord) { r.Direction = "sideways" }},
		{"carrier", func(r *CallRecord) { r.Carrier = "pigeon" }},
		{"from", func(r *CallRecord) { r.From = "a b" }},
		{"end_cause", func(r *CallRecord) { r.EndCause = "Caller Hangup" }},
		{"sip_status", func(r *CallRecord) { r.SIPStatus = 42 }},
		{"fleet_url", func(r *CallRecord) { r.FleetURL = "ftp://x" }},
		{"recording_key", func(r *CallRecord) { r.RecordingKey = "a/../b" }},
		{"error", func(r *CallRecord) { r.Error = strings.Repeat("e", 1001) }},
		{"ended_at", func(r *CallRecord) { r.EndedAt = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"talk_seconds", func(r *CallRecord) { r.TalkSeconds = &neg }},
		{"transcript[1].seq", func(r *CallRecord) { r.Transcript[0].Seq = 0 }},
		{"transcript[0].seq", func(r *CallRecord) { r.Transcript[0].Seq = -1 }},
		{"transcript[0].speaker", func(r *CallRecord) { r.Transcript[0].Speaker = "bot" }},
		{"transcript[0].text", func(r *CallRecord) { r.Transcript[0].Text = strings.Repeat("x", MaxEntryText+1) }},
		{"transcript[1].at", func(r *CallRecord) { r.Transcript[1].At = time.Time{} }},
		{"transcript[1].latency", func(r *CallRecord) { r.Transcript[1].Latency.LLMMS = -3 }},
		{"transcript[1].latency", func(r *CallRecord) { r.Transcript[1].Latency.OverheadMS = 3600_001 }},
		{"fields", func(r *CallRecord) { r.Fields = map[string]string{"a.b": "x"} }},
		{"fields.name", func(r *CallRecord) { r.Fields["name"] = strings.Repeat("v", MaxFieldValue+1) }},
	} {
		t.Run(tt.field, func(t *testing.T) {
			r := ok()
			tt.edit(&r)
			var fe *FieldError
			if err := r.Validate(); !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("err = %v, want a FieldError of %s", err, tt.field)
			}
		})
	}
}

func TestMergeTranscript(t *testing.T) {
	e := func(seq int, text string) TranscriptEntry { return TranscriptEntry{Seq: seq, Text: text} }
	stored := []TranscriptEntry{e(0, "a"), e(1, "b")}
	got, n := MergeTranscript(stored, []TranscriptEntry{e(1, "changed"), e(3, "d"), e(2, "c")})
	if n != 2 || len(got) != 4 || got[1].Text != "b" || got[2].Text != "c" || got[3].Text != "d" {
		t.Fatalf("merge = %v (%d)", got, n)
	}
	if again, n := MergeTranscript(got, []TranscriptEntry{e(0, "x"), e(3, "y")}); n != 0 || len(again) != 4 {
		t.Fatalf("re-merge added %d", n)
	}
}

func TestCallRecordJSONOmitsZero(t *testing.T) {
	b, err := json.Marshal(CallRecord{Status: CallRinging})
	if err != nil || string(b) != `{"status":"ringing"}` {
		t.Fatalf("json = %s, %v", b, err)
	}
}

func TestStatusRank(t *testing.T) {
	for i, s := range Statuses {
		if r := StatusRank(s); r == 0 || (i > 0 && r < StatusRank(Statuses[i-1])) {
			t.Fatalf("%s ranks %d", s, r)
		}
	}
	if StatusRank("answered") != 0 || !Terminal(CallBusy) || Terminal(CallInProgress) {
		t.Fatal("rank of unknown or terminal wrong")
	}
}
