package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/voxplatform/vox/svcauth"
)

func TestRuntimeAuth(t *testing.T) {
	h := newHarness(t)
	tok, _ := h.org("Svc Org")
	agent := h.must(201, "POST", "/api/v1/agents", tok, agentBody("S"))["id"].(string)
	path := "/runtime/agents/" + agent
	fleetTok, _ := svcauth.Sign([]byte(serviceSecret), svcauth.AudienceFleet, "x", time.Minute)
	otherKey, _ := svcauth.Sign([]byte("another-secret-of-enough-length"), svcauth.AudienceRuntime, "x", time.Minute)
	expired, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Audience: jwt.ClaimStrings{"runtime"},
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(-time.Minute))}).SignedString([]byte(serviceSecret))
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.RegisteredClaims{Audience: jwt.ClaimStrings{"runtime"},
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Minute))}).SignedString([]byte(serviceSecret))
	for name, bad := range map[string]string{"none": "", "fleet audience": fleetTok, "other key": otherKey,
		"expired": expired, "HS512": hs512, "a person's token": tok} {
		if r := h.req("GET", path, bad, nil); r.Status != 401 {
			t.Errorf("%s: %d", name, r.Status)
		} else {
			r.ErrorMsg(t)
		}
	}
	// A service token is no good on the people's API either.
	if r := h.req("GET", "/api/v1/agents", h.service(), nil); r.Status != 401 {
		t.Errorf("service token on /api/v1: %d", r.Status)
	}
	h.must(200, "GET", path, h.service(), nil)
}

func TestRuntimeAgentCache(t *testing.T) {
	h := newHarness(t)
	tok, orgID := h.org("Cache Org")
	svc := h.service()
	a1 := h.must(201, "POST", "/api/v1/agents", tok, agentBody("One"))["id"].(string)
	a2 := h.must(201, "POST", "/api/v1/agents", tok, agentBody("Two"))["id"].(string)
	num := h.must(201, "POST", "/api/v1/phone-numbers", tok, map[string]any{"e164": "+14155550123", "inbound_agent_id": a1})["id"].(string)
	if r := h.req("GET", "/runtime/agents/by-number/+14155550123", svc, nil); r.Status != 404 {
		t.Fatalf("unverified number: %d %s, want 404", r.Status, r.Body)
	}
	h.must(200, "POST", "/runtime/phone-numbers/verify", svc, map[string]any{"org_id": orgID, "e164": "+14155550123"})

	got := h.must(200, "GET", "/runtime/agents/"+a1, svc, nil)
	if got["name"] != "One" || got["org_id"] != orgID || got["greeting"] != "Hello" {
		t.Fatalf("runtime agent = %v", got)
	}
	if g := h.must(200, "GET", "/runtime/agents/by-number/+14155550123", svc, nil); g["id"] != a1 {
		t.Fatalf("by number = %v", g)
	}
	if g := h.must(200, "GET", "/runtime/agents/by-number/%2B1%20415%20555%200123", svc, nil); g["id"] != a1 {
		t.Fatalf("by escaped number = %v", g)
	}
	// Changes are visible at once: the cache is invalidated, not waited out.
	h.must(200, "PATCH", "/api/v1/agents/"+a1, tok, map[string]any{"greeting": "Changed"})
	if g := h.must(200, "GET", "/runtime/agents/"+a1, svc, nil); g["greeting"] != "Changed" {
		t.Fatalf("after agent change = %v", g)
	}
	if g := h.must(200, "GET", "/runtime/agents/by-number/+14155550123", svc, nil); g["greeting"] != "Changed" {
		t.Fatalf("by number after agent change = %v", g)
	}
	h.must(200, "PATCH", "/api/v1/phone-numbers/"+num, tok, map[string]any{"inbound_agent_id": a2})
	if g := h.must(200, "GET", "/runtime/agents/by-number/+14155550123", svc, nil); g["id"] != a2 {
		t.Fatalf("by number after number change = %v", g)
	}
	h.must(204, "DELETE", "/api/v1/agents/"+a2, tok, nil)
	if r := h.req("GET", "/runtime/agents/"+a2, svc, nil); r.Status != 404 {
		t.Fatalf("deleted agent: %d", r.Status)
	}
	if r := h.req("GET", "/runtime/agents/by-number/+14155550123", svc, nil); r.Status != 404 {
		t.Fatalf("number of deleted agent: %d", r.Status)
	}
	if r := h.req("GET", "/runtime/agents/by-number/+19999999999", svc, nil); r.Status != 404 {
		t.Fatalf("unknown number: %d", r.Status)
	}
	if r := h.req("GET", "/runtime/agents/by-number/abc", svc, nil); r.Status != 400 {
		t.Fatalf("bad number: %d", r.Status)
	}
}

func TestRuntimeCalls(t *testing.T) {
	h := newHarness(t)
	tok, orgID := h.org("Calls Org")
	other, _ := h.org("Other Calls Org")
	svc := h.service()
	agent := h.must(201, "POST", "/api/v1/agents", tok, agentBody("C"))["id"].(string)

	put := func(want int, body map[string]any) map[string]any {
		t.Helper()
		return h.must(want, "PUT", "/runtime/calls/CA123", svc, body)
	}
	c := put(201, map[string]any{"agent_id": agent, "status": "ringing", "direction": "outbound", "to": "+14155550001",
		"started_at": "2026-01-02T10:00:00Z"})
	if c["id"] != "CA123" || c["org_id"] != orgID || c["applied"] != true {
		t.Fatalf("created = %v", c)
	}
	// A retry of the same write changes nothing and creates nothing.
	if c := put(200, map[string]any{"agent_id": agent, "status": "ringing"}); c["applied"] != true || c["to"] != "+14155550001" {
		t.Fatalf("retry = %v", c)
	}
	put(200, map[string]any{"status": "in-progress", "answered_at": "2026-01-02T10:00:05Z"})
	put(200, map[string]any{"status": "completed", "ended_at": "2026-01-02T10:01:05Z", "duration_seconds": 60})
	// Late, out-of-order writes never move the call backwards.
	for _, st := range []string{"ringing", "in-progress", "failed"} {
		c := put(200, map[string]any{"status": st, "to": "+19999999999"})
		if c["status"] != "completed" || c["applied"] != false || c["to"] != "+14155550001" {
			t.Fatalf("late %s moved the call: %v", st, c)
		}
	}
	// The recording key arrives after the end.
	if c := put(200, map[string]any{"status": "completed", "recording_key": "2026/01/CA123.wav"}); c["recording_key"] != "2026/01/CA123.wav" {
		t.Fatalf("recording key = %v", c)
	}
	// The call is in its organisation's calls, and only there.
	l := h.must(200, "GET", "/api/v1/calls?status=completed", tok, nil)
	items := l["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["duration_seconds"] != 60.0 {
		t.Fatalf("calls = %v", items)
	}
	if l := h.must(200, "GET", "/api/v1/calls", other, nil); len(l["items"].([]any)) != 0 {
		t.Fatalf("other org sees %v", l)
	}
	if r := h.req("GET", "/api/v1/calls/CA123", other, nil); r.Status != 404 {
		t.Fatalf("other org detail: %d", r.Status)
	}
	// Validation.
	for _, b := range []map[string]any{
		{"status": "ringing"}, // new call without agent
		{"agent_id": "0123456789abcdef01234567", "status": "ringing"},
		{"agent_id": agent, "status": "ringing", "direction": "sideways"},
		{"agent_id": agent, "status": "ringing", "duration_seconds": -1},
		{"agent_id": agent, "status": "ringing", "recording_key": "../etc/passwd"},
		{"agent_id": agent, "status": "ringing", "started_at": "yesterday"},
	} {
		if r := h.req("PUT", "/runtime/calls/CA999", svc, b); r.Status != 400 {
			t.Errorf("%v: %d %s", b, r.Status, r.Body)
		}
	}
	// Many concurrent writers of one call: one record, the highest status.
	var wg sync.WaitGroup
	order := []string{"queued", "ringing", "in-progress", "busy"}
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := h.req("PUT", "/runtime/calls/CA-race", svc, map[string]any{"agent_id": agent, "status": order[i%4]})
			if r.Status != 200 && r.Status != 201 {
				t.Errorf("concurrent write: %d %s", r.Status, r.Body)
			}
		}(i)
	}
	wg.Wait()
	if c := h.must(200, "GET", "/api/v1/calls/CA-race", tok, nil); c["status"] != "busy" {
		t.Fatalf("after race: %v", c)
	}
	if l := h.must(200, "GET", "/api/v1/calls", tok, nil); len(l["items"].([]any)) != 2 {
		t.Fatalf("records = %v", l)
	}
}

// fakeFleet serves GET /health/fleet with the JSON contract of voxfleet.
type fakeFleet struct {
	srv  *httptest.Server
	mu   sync.Mutex
	code int
	free int
}

func newFakeFleet(t *testing.T, free int) *fakeFleet {
	f := &fakeFleet{code: 200, free: free}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health/fleet" {
			http.NotFound(w, r)
			return
		}
		f.mu.Lock()
		code, free := f.code, f.free
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"status":"ok","desired":4,"ready":%d,"busy":%d,"free":%d,"draining":0,"failed":0,"version":"test",`+
			`"workers":[{"index":0,"pid":1,"state":"ready","call_id":"","restarts":0,"uptime_s":1}]}`, free, 4-free, free)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeFleet) set(code, free int) {
	f.mu.Lock()
	f.code, f.free = code, free
	f.mu.Unlock()
}

func TestFleetSelection(t *testing.T) {
	m, r := sharedServers(t)
	h := start(t, testConfig(t, m, r), true)
	tok, orgID := h.org("Select Org")
	svc := h.service()
	f1, f2 := newFakeFleet(t, 1), newFakeFleet(t, 3)
	events := openEvents(t, h, tok)

	if r := h.req("GET", "/runtime/fleets/select?org_id="+orgID, svc, nil); r.Status != 503 || r.ErrorMsg(t) != "no fleet has a free slot" {
		t.Fatalf("no fleets: %d %s", r.Status, r.Body)
	}
	h.must(201, "POST", "/api/v1/fleets", tok, map[string]any{"name": "one", "url": f1.srv.URL})
	selected := func() string {
		r := h.req("GET", "/runtime/fleets/select?org_id="+orgID, svc, nil)
		if r.Status != 200 {
			return ""
		}
		return r.JSON(t)["url"].(string)
	}
	eventually(t, 5*time.Second, func() error {
		if u := selected(); u != f1.srv.URL {
			return fmt.Errorf("selected %q", u)
		}
		return nil
	})
	// The Console hears of the new fleet's capacity.
	if e, ok := events.next(t, 5*time.Second); !ok || !strings.HasPrefix(e, "event: fleet\n") || !strings.Contains(e, f1.srv.URL) {
		t.Fatalf("fleet event = %q", e)
	}
	// A URL added while running is polled and, having more free slots, chosen.
	h.must(201, "POST", "/api/v1/fleets", tok, map[string]any{"name": "two", "url": f2.srv.URL})
	eventually(t, 5*time.Second, func() error {
		if u := selected(); u != f2.srv.URL {
			return fmt.Errorf("selected %q", u)
		}
		return nil
	})
	// The list shows live capacity.
	l := h.must(200, "GET", "/api/v1/fleets", tok, nil)
	for _, it := range l["items"].([]any) {
		f := it.(map[string]any)
		c, _ := f["capacity"].(map[string]any)
		if c == nil || c["healthy"] != true {
			t.Fatalf("fleet without capacity: %v", f)
		}
	}
	// A failing host is not selected.
	f2.set(503, 3)
	eventually(t, 5*time.Second, func() error {
		if u := selected(); u != f1.srv.URL {
			return fmt.Errorf("selected %q", u)
		}
		return nil
	})
	// Full hosts are not selected; selections between polls use up free slots.
	f1.set(200, 0)
	eventually(t, 5*time.Second, func() error {
		if u := selected(); u != "" {
			return fmt.Errorf("selected %q with no free slot", u)
		}
		return nil
	})
	f2.set(200, 2)
	eventually(t, 5*time.Second, func() error {
		if u := selected(); u != f2.srv.URL {
			return fmt.Errorf("selected %q", u)
		}
		return nil
	})
	// A host that stops answering is dropped.
	f2.srv.Close()
	eventually(t, 5*time.Second, func() error {
		if u := selected(); u != "" {
			return fmt.Errorf("selected %q after it went away", u)
		}
		return nil
	})
	if r := h.req("GET", "/runtime/fleets/select?org_id=nope", svc, nil); r.Status != 400 {
		t.Fatalf("bad org_id: %d", r.Status)
	}
}

// sse reads one event stream.
type sse struct {
	events chan string
	resp   *http.Response
}

func openEvents(t *testing.T, h *harness, token string) *sse {
	req, _ := http.NewRequest("GET", h.base+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("events: %d %v", res.StatusCode, res.Header)
	}
	s := &sse{events: make(chan string, 100), resp: res}
	t.Cleanup(func() { res.Body.Close() })
	go func() {
		sc := bufio.NewScanner(res.Body)
		var cur strings.Builder
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				if cur.Len() > 0 {
					s.events <- cur.String()
				}
				cur.Reset()
				continue
			}
			if !strings.HasPrefix(line, ":") {
				cur.WriteString(line + "\n")
			}
		}
		close(s.events)
	}()
	return s
}

func (s *sse) next(t *testing.T, d time.Duration) (string, bool) {
	select {
	case e, ok := <-s.events:
		return e, ok
	case <-time.After(d):
		return "", false
	}
}

func TestEvents(t *testing.T) {
	h := newHarness(t)
	tok, _ := h.org("Events Org")
	other, _ := h.org("Quiet Org")
	agent := h.must(201, "POST", "/api/v1/agents", tok, agentBody("E"))["id"].(string)
	mine, theirs := openEvents(t, h, tok), openEvents(t, h, other)

	h.must(201, "PUT", "/runtime/calls/EV1", h.service(), map[string]any{"agent_id": agent, "status": "ringing"})
	e, ok := mine.next(t, 5*time.Second)
	if !ok || !strings.HasPrefix(e, "event: call\n") {
		t.Fatalf("event = %q", e)
	}
	var msg struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(strings.SplitN(e, "\n", 2)[1], "data: ")), &msg); err != nil || msg.Data["id"] != "EV1" {
		t.Fatalf("event data %q: %v", e, err)
	}
	if e, ok := theirs.next(t, 500*time.Millisecond); ok {
		t.Fatalf("another organisation got %q", e)
	}
}
