package runtimeclient

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/svcauth"
)

var secret = []byte("test-service-secret-0123456789")

func newClient(t *testing.T, url string) *Client {
	t.Helper()
	c, err := New(Config{BaseURL: url, Secret: secret, Backoff: time.Millisecond, Attempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRetries: 5xx and network errors are retried, 4xx never; every
// request carries a runtime service token.
func TestRetries(t *testing.T) {
	var hits atomic.Int32
	var status atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if _, err := svcauth.Verify(secret, svcauth.AudienceRuntime, svcauth.FromHeader(r.Header.Get("Authorization"))); err != nil {
			w.WriteHeader(401)
			w.Write([]byte(`{"error":"unauthorized"}`))
			return
		}
		if s := int(status.Load()); s != 0 {
			if hits.Load() < 3 || s != 500 {
				w.WriteHeader(s)
				w.Write([]byte(`{"error":"nope"}`))
				return
			}
		}
		json.NewEncoder(w).Encode(runtimeapi.Agent{ID: "a1", AgentSettings: runtimeapi.AgentSettings{Greeting: "Hi"}})
	}))
	defer srv.Close()
	c := newClient(t, srv.URL)
	ctx := context.Background()

	status.Store(500) // fails twice, then answers
	a, err := c.Agent(ctx, "a1")
	if err != nil || a.Greeting != "Hi" || hits.Load() != 3 {
		t.Fatalf("after 5xx: %+v %v, %d requests", a, err, hits.Load())
	}
	for _, s := range []int{400, 404, 409} {
		hits.Store(0)
		status.Store(int32(s))
		_, err = c.Agent(ctx, "a1")
		var e *Error
		if !errors.As(err, &e) || e.Status != s || e.Message != "nope" || !Permanent(err) || hits.Load() != 1 {
			t.Fatalf("%d: %v after %d requests", s, err, hits.Load())
		}
	}
	if !NotFound(&Error{Status: 404}) || Permanent(&Error{Status: 503}) || Permanent(&Error{Status: 429}) {
		t.Fatal("classification")
	}
	srv.Close()
	hits.Store(0)
	if err := c.PutCall(ctx, "c1", runtimeapi.CallRecord{Status: runtimeapi.CallQueued}); err == nil || Permanent(err) {
		t.Fatalf("backend down: %v", err)
	}
	if err := c.PutCall(ctx, "../x", runtimeapi.CallRecord{}); err == nil {
		t.Fatal("bad call id accepted")
	}
	if _, err := New(Config{BaseURL: "ftp://x", Secret: secret}); err == nil {
		t.Fatal("bad URL accepted")
	}
	if _, err := New(Config{BaseURL: "http://x", Secret: []byte("short")}); err == nil {
		t.Fatal("short secret accepted")
	}
}

func TestAgentCache(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "agents")
	c, err := NewAgentCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := runtimeapi.Agent{ID: "0123456789abcdef01234567", OrgID: "o", AgentSettings: runtimeapi.AgentSettings{Greeting: "Hello", MaxCallSeconds: 60}}
	if _, err := c.Get(a.ID); !errors.Is(err, ErrNotCached) {
		t.Fatalf("empty cache: %v", err)
	}
	if err := c.Put(a); err != nil {
		t.Fatal(err)
	}
	if err := c.PutNumber("+14155552671", a); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(a.ID); err != nil || got.Greeting != "Hello" || got.MaxCall() != time.Minute {
		t.Fatalf("get: %+v %v", got, err)
	}
	if got, err := c.GetNumber("+14155552671"); err != nil || got.ID != a.ID {
		t.Fatalf("get number: %+v %v", got, err)
	}
	for _, bad := range []func() error{
		func() error { return c.Put(runtimeapi.Agent{ID: "../../etc/passwd"}) },
		func() error { return c.PutNumber("4155552671/..", a) },
	} {
		if bad() == nil {
			t.Fatal("bad key accepted")
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("cache dir holds %d files, want 2 (no temporary left)", len(ents))
	}
}

// TestAgentsFallback: a Backend that cannot answer falls back to the cache;
// one that says the agent is gone does not.
func TestAgentsFallback(t *testing.T) {
	var status atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := int(status.Load()); s != 0 {
			w.WriteHeader(s)
			w.Write([]byte(`{"error":"x"}`))
			return
		}
		json.NewEncoder(w).Encode(runtimeapi.Agent{ID: "a1", AgentSettings: runtimeapi.AgentSettings{Greeting: "v1"}})
	}))
	defer srv.Close()
	cache, _ := NewAgentCache(t.TempDir())
	s := &Agents{Client: newClient(t, srv.URL), Cache: cache}
	ctx := context.Background()
	if a, src, err := s.Agent(ctx, "a1"); err != nil || src != FromBackend || a.Greeting != "v1" {
		t.Fatalf("backend up: %+v %s %v", a, src, err)
	}
	status.Store(503)
	if a, src, err := s.Agent(ctx, "a1"); err != nil || src != FromCache || a.Greeting != "v1" {
		t.Fatalf("backend 503: %+v %s %v", a, src, err)
	}
	if _, _, err := s.Agent(ctx, "never-seen"); err == nil {
		t.Fatal("uncached agent with the backend down: no error")
	}
	status.Store(404)
	if _, _, err := s.Agent(ctx, "a1"); !NotFound(err) {
		t.Fatalf("deleted agent: %v", err)
	}
	status.Store(0)
	if _, src, err := s.AgentByNumber(ctx, "+14155552671"); err != nil || src != FromBackend {
		t.Fatal(err)
	}
	srv.Close()
	if a, src, err := s.AgentByNumber(ctx, "+14155552671"); err != nil || src != FromCache || a.ID != "a1" {
		t.Fatalf("number with backend down: %+v %s %v", a, src, err)
	}
}

// TestPutCallInParts: a transcript too long for one body goes in several
// PUTs, each under MaxBody, the first with the whole record.
func TestPutCallInParts(t *testing.T) {
	var mu sync.Mutex
	var parts []runtimeapi.CallRecord
	largest := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var rec runtimeapi.CallRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			w.WriteHeader(400)
			return
		}
		mu.Lock()
		parts = append(parts, rec)
		largest = max(largest, len(b))
		mu.Unlock()
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c, err := New(Config{BaseURL: srv.URL, Secret: secret, MaxBody: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	rec := runtimeapi.CallRecord{AgentID: "a", Status: runtimeapi.CallCompleted, EndCause: runtimeapi.EndAgentHangup}
	for i := range 300 {
		rec.Transcript = append(rec.Transcript, runtimeapi.TranscriptEntry{Seq: i, Speaker: runtimeapi.SpeakerAgent,
			Text: strings.Repeat("x", 100), At: time.Now()})
	}
	if err := c.PutCall(context.Background(), "c1", rec); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(parts) < 4 || largest > 8<<10 {
		t.Fatalf("%d parts, largest %d bytes", len(parts), largest)
	}
	seq := 0
	for i, p := range parts {
		if p.Status != runtimeapi.CallCompleted || p.AgentID != "a" || (i == 0) != (p.EndCause != "") {
			t.Fatalf("part %d: %+v", i, p)
		}
		for _, e := range p.Transcript {
			if e.Seq != seq {
				t.Fatalf("part %d: entry %d, want %d", i, e.Seq, seq)
			}
			seq++
		}
	}
	if seq != 300 {
		t.Fatalf("%d entries sent", seq)
	}
}
