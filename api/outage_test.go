package api_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/voxplatform/vox/internal/testmongo"
	"github.com/voxplatform/vox/internal/testredis"
)

// health waits until GET /health answers want and returns the body.
func waitHealth(t *testing.T, h *harness, want int) map[string]any {
	t.Helper()
	var body map[string]any
	eventually(t, 30*time.Second, func() error {
		r := h.req("GET", "/health", "", nil)
		if r.Status != want {
			return fmt.Errorf("health %d: %s", r.Status, r.Body)
		}
		body = r.JSON(t)
		return nil
	})
	return body
}

func TestOutageAndRecovery(t *testing.T) {
	ms := testmongo.StartServer(t)
	rs := testredis.StartServer(t)
	h := start(t, testConfig(t, ms.URI(), rs.URL()), false)
	tok, _ := h.org("Outage Org")
	agent := h.must(201, "POST", "/api/v1/agents", tok, agentBody("Survivor"))["id"].(string)
	if b := waitHealth(t, h, 200); b["mongodb"] != "ok" || b["redis"] != "ok" {
		t.Fatalf("health = %v", b)
	}

	// Redis down: /health says which, authenticated calls get a clean 503.
	rs.Stop()
	b := waitHealth(t, h, 503)
	if b["error"] != "redis unreachable" || b["mongodb"] != "ok" || !strings.HasPrefix(b["redis"].(string), "down") {
		t.Fatalf("health with redis down = %v", b)
	}
	if r := h.req("GET", "/api/v1/agents", tok, nil); r.Status != 503 || r.ErrorMsg(t) != "cache unavailable" {
		t.Fatalf("api with redis down: %d %s", r.Status, r.Body)
	}
	// The runtime agent lookup falls back to MongoDB.
	h.must(200, "GET", "/runtime/agents/"+agent, h.service(), nil)
	if err := rs.Restart(); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, h, 200)
	h.must(200, "GET", "/api/v1/agents", tok, nil)

	// MongoDB down: the same, then back with its data.
	ms.Stop()
	b = waitHealth(t, h, 503)
	if b["error"] != "mongodb unreachable" || b["redis"] != "ok" {
		t.Fatalf("health with mongodb down = %v", b)
	}
	if r := h.req("GET", "/api/v1/agents", tok, nil); r.Status != 503 || r.ErrorMsg(t) != "database unavailable" {
		t.Fatalf("api with mongodb down: %d %s", r.Status, r.Body)
	}
	if r := h.req("PUT", "/runtime/calls/OUT1", h.service(), map[string]any{"agent_id": agent, "status": "ringing"}); r.Status != 503 {
		t.Fatalf("call write with mongodb down: %d %s", r.Status, r.Body)
	}
	if err := ms.Restart(); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, h, 200)
	eventually(t, 30*time.Second, func() error {
		r := h.req("GET", "/api/v1/agents/"+agent, tok, nil)
		if r.Status != 200 {
			return fmt.Errorf("%d %s", r.Status, r.Body)
		}
		return nil
	})
	h.must(201, "PUT", "/runtime/calls/OUT1", h.service(), map[string]any{"agent_id": agent, "status": "ringing"})

	// Both down at once.
	ms.Stop()
	rs.Stop()
	if b := waitHealth(t, h, 503); b["error"] != "mongodb and redis unreachable" {
		t.Fatalf("both down = %v", b)
	}
	if err := ms.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := rs.Restart(); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, h, 200)
}

// TestFrozenDatabaseAnswers503: with the MongoDB-wire server stopped by
// SIGSTOP (connections open, nothing answers), a request ends at
// REQUEST_TIMEOUT with 503 and Retry-After instead of hanging and then
// answering 500. The client gives up after five times REQUEST_TIMEOUT: a
// request that is not cut at its deadline (about 9 s here) fails the test.
func TestFrozenDatabaseAnswers503(t *testing.T) {
	ms := testmongo.StartServer(t)
	cfg := testConfig(t, ms.URI(), testredis.Start(t))
	cfg.RequestTimeout = time.Second
	h := start(t, cfg, false)
	tok, _ := h.org("Frozen Org")
	h.must(201, "POST", "/api/v1/agents", tok, agentBody("Before"))
	if err := ms.Freeze(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ms.Thaw() })
	client := &http.Client{Timeout: 5 * cfg.RequestTimeout}
	for _, path := range []string{"/api/v1/agents", "/api/v1/calls"} {
		req, _ := http.NewRequest("GET", h.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s with the database frozen: %v (no answer within the request deadline)", path, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		r := resp{Status: res.StatusCode, Header: res.Header, Body: body}
		if r.Status != 503 || r.Header.Get("Retry-After") == "" || r.ErrorMsg(t) != "database unavailable" {
			t.Fatalf("GET %s with the database frozen: %d %v %s", path, r.Status, r.Header, r.Body)
		}
	}
	if err := ms.Thaw(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if r := h.req("GET", "/api/v1/agents", tok, nil); r.Status != 200 {
			return fmt.Errorf("%d %s", r.Status, r.Body)
		}
		return nil
	})
}
