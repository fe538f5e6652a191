package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestCallTranscript: a call record carries its transcript, extracted
// fields and per-turn latencies; entries are appended once each by seq,
// even by a write whose status is stale, and GET /api/v1/calls/{id} shows
// them.
func TestCallTranscript(t *testing.T) {
	h := newHarness(t)
	tok, _ := h.org("Transcript Org")
	agent := h.must(201, "POST", "/api/v1/agents", tok, agentBody("T"))["id"].(string)
	svc := h.service()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	entry := func(seq int, speaker, text string) map[string]any {
		e := map[string]any{"seq": seq, "speaker": speaker, "text": text, "at": at.Add(time.Duration(seq) * time.Second)}
		if speaker == "agent" {
			e["latency"] = map[string]any{"response_ms": 100 + seq}
		}
		return e
	}
	put := func(want int, body map[string]any) map[string]any {
		t.Helper()
		body["agent_id"] = agent
		return h.must(want, "PUT", "/runtime/calls/TR1", svc, body)
	}
	events := openEvents(t, h, tok)
	r := put(201, map[string]any{"status": "in-progress", "carrier": "sip", "sip_status": 200,
		"transcript": []any{entry(0, "agent", "Hello"), entry(1, "caller", "Hi")}, "fields": map[string]string{"name": "Ann"}})
	if r["appended"] != 2.0 || r["applied"] != true {
		t.Fatalf("first write: %v", r)
	}
	// The Console hears of it, without the transcript (which grows with
	// every turn).
	if e, ok := events.next(t, 5*time.Second); !ok || !strings.HasPrefix(e, "event: call\n") ||
		!strings.Contains(e, `"sip_status":200`) || strings.Contains(e, "transcript") {
		t.Fatalf("call event = %q", e)
	}
	// The whole transcript again, one entry more, and a changed old one:
	// only the new entry is added.
	r = put(200, map[string]any{"status": "in-progress",
		"transcript": []any{entry(0, "agent", "CHANGED"), entry(1, "caller", "Hi"), entry(2, "agent", "How can I help?")},
		"fields":     map[string]string{"intent": "billing"}})
	if r["appended"] != 1.0 {
		t.Fatalf("second write: %v", r)
	}
	put(200, map[string]any{"status": "completed", "end_cause": "caller_hangup", "talk_seconds": 4.5})
	// A late write of an earlier status moves nothing, but its new entry
	// is kept.
	r = put(200, map[string]any{"status": "in-progress", "end_cause": "agent_hangup",
		"transcript": []any{entry(3, "caller", "Bye")}})
	if r["applied"] != false || r["appended"] != 1.0 || r["status"] != "completed" {
		t.Fatalf("stale write: %v", r)
	}
	// A recording uploaded later attaches its key whatever status its
	// uploader knew, once.
	r = put(200, map[string]any{"status": "in-progress", "recording_key": "recordings/o/2026/03/01/TR1.wav"})
	if r["applied"] != false || r["recording_key"] != "recordings/o/2026/03/01/TR1.wav" || r["status"] != "completed" {
		t.Fatalf("late recording key: %v", r)
	}
	r = put(200, map[string]any{"status": "ringing", "recording_key": "recordings/other.wav"})
	if r["recording_key"] != "recordings/o/2026/03/01/TR1.wav" {
		t.Fatalf("recording key replaced by a stale write: %v", r)
	}
	// Replaying the same write is a no-op.
	r = put(200, map[string]any{"status": "in-progress", "transcript": []any{entry(3, "caller", "Bye")}})
	if r["appended"] != 0.0 {
		t.Fatalf("replay: %v", r)
	}

	c := h.must(200, "GET", "/api/v1/calls/TR1", tok, nil)
	tr, _ := c["transcript"].([]any)
	var got []string
	for _, e := range tr {
		m := e.(map[string]any)
		got = append(got, fmt.Sprintf("%v:%v:%v", m["seq"], m["speaker"], m["text"]))
	}
	if fmt.Sprint(got) != "[0:agent:Hello 1:caller:Hi 2:agent:How can I help? 3:caller:Bye]" {
		t.Fatalf("transcript = %v", got)
	}
	if lat := tr[2].(map[string]any)["latency"].(map[string]any); lat["response_ms"] != 102.0 {
		t.Fatalf("latency = %v", lat)
	}
	f := c["fields"].(map[string]any)
	if f["name"] != "Ann" || f["intent"] != "billing" || c["end_cause"] != "caller_hangup" ||
		c["sip_status"] != 200.0 || c["talk_seconds"] != 4.5 || c["carrier"] != "sip" {
		t.Fatalf("call = %v", c)
	}
	if _, ok := c["transcript_n"]; ok {
		t.Fatalf("internal field shown: %v", c)
	}
	// Lists leave transcripts out.
	l := h.must(200, "GET", "/api/v1/calls", tok, nil)
	items := l["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["transcript"] != nil || items[0].(map[string]any)["end_cause"] != "caller_hangup" {
		t.Fatalf("list = %v", items)
	}

	for name, body := range map[string]map[string]any{
		"transcript[0].speaker": {"status": "completed", "transcript": []any{entry(9, "robot", "x")}},
		"transcript[1].seq":     {"status": "completed", "transcript": []any{entry(5, "agent", "x"), entry(5, "agent", "y")}},
		"fields":                {"status": "completed", "fields": map[string]string{"a.b": "x"}},
		"sip_status":            {"status": "completed", "sip_status": 7},
		"status":                {"status": "answered"},
	} {
		body["agent_id"] = agent
		res := h.req("PUT", "/runtime/calls/TR2", svc, body)
		if msg := res.ErrorMsg(t); res.Status != 400 || len(msg) < len(name) || msg[:len(name)] != name {
			t.Errorf("%s: %d %s", name, res.Status, msg)
		}
	}
}
