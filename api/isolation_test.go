package api_test

import (
	"testing"
)

// TestOrgIsolation creates one of everything in organisation B and checks
// that organisation A's owner can neither see nor change any of it: every
// id of B is a 404 for A, on every endpoint that takes an id.
func TestOrgIsolation(t *testing.T) {
	h := newHarness(t)
	a, orgA := h.org("Org A")
	b, _ := h.org("Org B")
	svc := h.service()

	agentB := h.must(201, "POST", "/api/v1/agents", b, agentBody("B agent"))["id"].(string)
	numberB := h.must(201, "POST", "/api/v1/phone-numbers", b, map[string]any{"e164": "+442079461111", "inbound_agent_id": agentB})["id"].(string)
	campB := h.must(201, "POST", "/api/v1/campaigns", b, campaignBody(agentB))["id"].(string)
	h.must(200, "POST", "/api/v1/campaigns/"+campB+"/contacts", b, "phone\n+442079462222\n", "text/csv")
	contactB := h.must(200, "GET", "/api/v1/campaigns/"+campB+"/contacts", b, nil)["items"].([]any)[0].(map[string]any)["id"].(string)
	fleetB := h.must(201, "POST", "/api/v1/fleets", b, map[string]any{"name": "b", "url": "http://127.0.0.1:9"})["id"].(string)
	dncB := h.must(201, "POST", "/api/v1/do-not-call", b, map[string]any{"phone": "+442079463333"})["id"].(string)
	userB := h.must(201, "POST", "/api/v1/users", b, map[string]any{"email": "u@orgb.test", "role": "viewer", "password": "user-password-1"})["id"].(string)
	keyB := h.must(201, "POST", "/api/v1/api-keys", b, map[string]any{"name": "k"})["id"].(string)
	h.must(201, "PUT", "/runtime/calls/call-of-b", svc, map[string]any{"agent_id": agentB, "status": "completed"})

	agentA := h.must(201, "POST", "/api/v1/agents", a, agentBody("A agent"))["id"].(string)
	campA := h.must(201, "POST", "/api/v1/campaigns", a, campaignBody(agentA))["id"].(string)

	type ep struct {
		method, path string
		body         any
		ctype        string
	}
	patch := map[string]any{"name": "taken over"}
	endpoints := []ep{
		{"GET", "/api/v1/agents/" + agentB, nil, ""},
		{"PATCH", "/api/v1/agents/" + agentB, patch, ""},
		{"DELETE", "/api/v1/agents/" + agentB, nil, ""},
		{"GET", "/api/v1/phone-numbers/" + numberB, nil, ""},
		{"PATCH", "/api/v1/phone-numbers/" + numberB, map[string]any{"trunk_id": "x"}, ""},
		{"DELETE", "/api/v1/phone-numbers/" + numberB, nil, ""},
		{"GET", "/api/v1/campaigns/" + campB, nil, ""},
		{"PATCH", "/api/v1/campaigns/" + campB, patch, ""},
		{"DELETE", "/api/v1/campaigns/" + campB, nil, ""},
		{"POST", "/api/v1/campaigns/" + campB + "/start", nil, ""},
		{"POST", "/api/v1/campaigns/" + campB + "/pause", nil, ""},
		{"GET", "/api/v1/campaigns/" + campB + "/contacts", nil, ""},
		{"POST", "/api/v1/campaigns/" + campB + "/contacts", "phone\n+442079464444\n", "text/csv"},
		{"GET", "/api/v1/campaigns/" + campB + "/contacts/" + contactB, nil, ""},
		{"DELETE", "/api/v1/campaigns/" + campB + "/contacts/" + contactB, nil, ""},
		{"GET", "/api/v1/campaigns/" + campA + "/contacts/" + contactB, nil, ""},
		{"DELETE", "/api/v1/campaigns/" + campA + "/contacts/" + contactB, nil, ""},
		{"GET", "/api/v1/fleets/" + fleetB, nil, ""},
		{"PATCH", "/api/v1/fleets/" + fleetB, map[string]any{"enabled": false}, ""},
		{"DELETE", "/api/v1/fleets/" + fleetB, nil, ""},
		{"GET", "/api/v1/do-not-call/" + dncB, nil, ""},
		{"DELETE", "/api/v1/do-not-call/" + dncB, nil, ""},
		{"GET", "/api/v1/users/" + userB, nil, ""},
		{"PATCH", "/api/v1/users/" + userB, map[string]any{"role": "admin"}, ""},
		{"DELETE", "/api/v1/users/" + userB, nil, ""},
		{"GET", "/api/v1/api-keys/" + keyB, nil, ""},
		{"PATCH", "/api/v1/api-keys/" + keyB, map[string]any{"role": "admin"}, ""},
		{"DELETE", "/api/v1/api-keys/" + keyB, nil, ""},
		{"GET", "/api/v1/calls/call-of-b", nil, ""},
	}
	for _, e := range endpoints {
		t.Run(e.method+" "+e.path, func(t *testing.T) {
			ct := "application/json"
			if e.ctype != "" {
				ct = e.ctype
			}
			r := h.req(e.method, e.path, a, e.body, ct)
			if r.Status != 404 {
				t.Fatalf("status %d, want 404; body %s", r.Status, r.Body)
			}
			if msg := r.ErrorMsg(t); msg != "not found" {
				t.Fatalf("message %q", msg)
			}
		})
	}

	// References to B's documents from A's writes are refused.
	if r := h.req("POST", "/api/v1/campaigns", a, campaignBody(agentB)); r.Status != 400 {
		t.Errorf("campaign with B's agent: %d", r.Status)
	}
	if r := h.req("POST", "/api/v1/phone-numbers", a, map[string]any{"e164": "+442079465555", "inbound_agent_id": agentB}); r.Status != 400 {
		t.Errorf("number with B's agent: %d", r.Status)
	}

	// A's lists hold only A's documents, with or without B's ids as filters.
	for _, path := range []string{"/api/v1/agents", "/api/v1/phone-numbers", "/api/v1/campaigns", "/api/v1/fleets",
		"/api/v1/do-not-call", "/api/v1/users", "/api/v1/api-keys", "/api/v1/calls",
		"/api/v1/calls?agent_id=" + agentB, "/api/v1/campaigns?agent_id=" + agentB, "/api/v1/phone-numbers?inbound_agent_id=" + agentB} {
		l := h.must(200, "GET", path, a, nil)
		for _, it := range l["items"].([]any) {
			if org := it.(map[string]any)["org_id"]; org != orgA {
				t.Errorf("%s lists a document of org %v", path, org)
			}
		}
	}

	// Nothing of B changed.
	if n := h.must(200, "GET", "/api/v1/agents/"+agentB, b, nil)["name"]; n != "B agent" {
		t.Errorf("B's agent renamed to %v", n)
	}
	if s := h.must(200, "GET", "/api/v1/campaigns/"+campB, b, nil)["status"]; s != "draft" {
		t.Errorf("B's campaign status %v", s)
	}
	if l := h.must(200, "GET", "/api/v1/campaigns/"+campB+"/contacts", b, nil)["items"].([]any); len(l) != 1 {
		t.Errorf("B's contacts = %d", len(l))
	}
	for _, p := range []string{"/api/v1/users/" + userB, "/api/v1/api-keys/" + keyB, "/api/v1/fleets/" + fleetB,
		"/api/v1/do-not-call/" + dncB, "/api/v1/phone-numbers/" + numberB, "/api/v1/calls/call-of-b"} {
		h.must(200, "GET", p, b, nil)
	}
	if r := h.must(200, "GET", "/api/v1/users/"+userB, b, nil); r["role"] != "viewer" {
		t.Errorf("B's user role %v", r["role"])
	}
}
