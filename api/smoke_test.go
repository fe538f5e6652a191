package api_test

import (
	"strings"
	"testing"
)

func TestSmoke(t *testing.T) {
	h := newHarness(t)
	h.must(200, "GET", "/health", "", nil)
	tok, _ := h.org("Smoke Org")
	a := h.must(201, "POST", "/api/v1/agents", tok, agentBody("A"))
	id := a["id"].(string)
	h.must(200, "GET", "/api/v1/agents/"+id, tok, nil)
	h.must(200, "PATCH", "/api/v1/agents/"+id, tok, map[string]any{"name": "B"})
	l := h.must(200, "GET", "/api/v1/agents", tok, nil)
	if len(l["items"].([]any)) != 1 {
		t.Fatal(l)
	}
	h.must(200, "GET", "/runtime/agents/"+id, h.service(), nil)
	h.must(201, "PUT", "/runtime/calls/call-1", h.service(), map[string]any{"agent_id": id, "status": "ringing"})
	h.must(200, "GET", "/api/v1/calls/call-1", tok, nil)
	h.must(204, "DELETE", "/api/v1/agents/"+id, tok, nil)
	m := h.req("GET", "/metrics", "", nil)
	for _, want := range []string{`voxbridge_http_request_duration_seconds_count{code="201",method="PUT",route="/runtime/calls/:call_id"} 1`,
		`voxbridge_call_record_writes_total{outcome="created"} 1`} {
		if m.Status != 200 || !strings.Contains(string(m.Body), want) {
			t.Errorf("/metrics lacks %s\n%s", want, m.Body)
		}
	}
}
