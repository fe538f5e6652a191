package api_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voxplatform/vox/api"
	"github.com/voxplatform/vox/api/config"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/runtimeclient"
	"github.com/voxplatform/vox/spool"
)

// restartable is a voxbridge on a fixed address that a test stops and
// starts again: a Backend outage.
type restartable struct {
	t    *testing.T
	cfg  *config.Config
	addr string
	stop func()
}

func (r *restartable) start() {
	r.t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("VOXBRIDGE_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := api.New(r.cfg, logger)
	if err != nil {
		r.t.Fatal(err)
	}
	var ln net.Listener
	eventually(r.t, 10*time.Second, func() error { ln, err = net.Listen("tcp", r.addr); return err })
	r.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	r.stop = func() {
		cancel()
		<-done
		srv.Close()
		r.stop = nil
	}
	r.t.Cleanup(func() {
		if r.stop != nil {
			r.stop()
		}
	})
}

// TestRuntimeClientOutage drives the real voxbridge with the worker's
// client: agent config and call records while it is up; the cached config
// and the spool while it is down; the spool drained when it is back.
func TestRuntimeClientOutage(t *testing.T) {
	h := newHarness(t) // people API, same database
	tok, orgID := h.org("Outage Client Org")
	agent := h.must(201, "POST", "/api/v1/agents", tok, agentBody("Client"))["id"].(string)
	const number = "+442079460123"
	h.must(201, "POST", "/api/v1/phone-numbers", tok, map[string]any{"e164": number, "inbound_agent_id": agent})
	h.must(200, "POST", "/runtime/phone-numbers/verify", h.service(), map[string]any{"org_id": orgID, "e164": number})

	m, r := sharedServers(t)
	cfg := testConfig(t, m, r)
	cfg.MongoDatabase = h.cfg.MongoDatabase
	cfg.ShutdownTimeout = time.Second
	b := &restartable{t: t, cfg: cfg, addr: "127.0.0.1:0"}
	b.start()

	client, err := runtimeclient.New(runtimeclient.Config{BaseURL: "http://" + b.addr, Secret: []byte(serviceSecret),
		Timeout: 5 * time.Second, Attempts: 2, Backoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cache, _ := runtimeclient.NewAgentCache(t.TempDir())
	agents := &runtimeclient.Agents{Client: client, Cache: cache}
	ctx := context.Background()

	a, src, err := agents.Agent(ctx, agent)
	if err != nil || src != runtimeclient.FromBackend || a.Greeting != "Hello" || !a.Recording ||
		a.MaxCallSeconds != 600 || len(a.Script) != 2 || a.OrgID == "" {
		t.Fatalf("agent: %+v %s %v", a, src, err)
	}
	if a, src, err := agents.AgentByNumber(ctx, number); err != nil || src != runtimeclient.FromBackend || a.ID != agent {
		t.Fatalf("agent by number: %+v %s %v", a, src, err)
	}
	if _, _, err := agents.AgentByNumber(ctx, "+14155550199"); !runtimeclient.NotFound(err) {
		t.Fatalf("unassigned number: %v", err)
	}
	rec := runtimeapi.CallRecord{AgentID: agent, Status: runtimeapi.CallInProgress, Carrier: runtimeapi.CarrierTest,
		Direction: runtimeapi.Inbound, StartedAt: time.Now(),
		Transcript: []runtimeapi.TranscriptEntry{{Seq: 0, Speaker: runtimeapi.SpeakerAgent, Text: "Hello", At: time.Now()}}}
	if err := client.PutCall(ctx, "RC1", rec); err != nil {
		t.Fatal(err)
	}
	// A long call's transcript is more than one body may carry: it goes in
	// parts and arrives whole.
	long := runtimeapi.CallRecord{AgentID: agent, Status: runtimeapi.CallCompleted, EndCause: runtimeapi.EndMaxDuration}
	for i := range 400 {
		sp := runtimeapi.SpeakerAgent
		if i%2 == 1 {
			sp = runtimeapi.SpeakerCaller
		}
		long.Transcript = append(long.Transcript, runtimeapi.TranscriptEntry{Seq: i, Speaker: sp,
			Text: fmt.Sprintf("turn %d: %s", i, strings.Repeat("words ", 40)), At: time.Now()})
	}
	if err := client.PutCall(ctx, "RC-LONG", long); err != nil {
		t.Fatal(err)
	}
	c := h.must(200, "GET", "/api/v1/calls/RC-LONG", tok, nil)
	if tr := c["transcript"].([]any); len(tr) != 400 || c["end_cause"] != "max_duration" ||
		!strings.HasPrefix(tr[399].(map[string]any)["text"].(string), "turn 399:") {
		t.Fatalf("long transcript: %d entries", len(tr))
	}

	err = client.PutCall(ctx, "RC1", runtimeapi.CallRecord{Status: "answered"})
	var e *runtimeclient.Error
	if !errors.As(err, &e) || e.Status != 400 || !runtimeclient.Permanent(err) {
		t.Fatalf("bad record: %v", err)
	}

	// The Backend goes down: the config comes from the cache, records wait
	// in the spool.
	b.stop()
	a, src, err = agents.Agent(ctx, agent)
	if err != nil || src != runtimeclient.FromCache || a.Greeting != "Hello" {
		t.Fatalf("agent while down: %+v %s %v", a, src, err)
	}
	if a, src, err := agents.AgentByNumber(ctx, number); err != nil || src != runtimeclient.FromCache || a.ID != agent {
		t.Fatalf("agent by number while down: %+v %s %v", a, src, err)
	}
	sp, err := spool.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rec.Status, rec.EndCause, rec.EndedAt = runtimeapi.CallCompleted, runtimeapi.EndCallerHangup, time.Now()
	rec.Transcript = append(rec.Transcript, runtimeapi.TranscriptEntry{Seq: 1, Speaker: runtimeapi.SpeakerCaller, Text: "Bye", At: time.Now()})
	for _, k := range []string{"RC1", "RC2"} {
		if err := sp.Put(k, rec); err != nil {
			t.Fatal(err)
		}
	}
	var failures atomic.Int32
	callSink := client.CallSink()
	sink := func(ctx context.Context, key string, b []byte) error {
		err := callSink(ctx, key, b)
		if err != nil {
			failures.Add(1)
		}
		return err
	}
	dctx, stopDrain := context.WithCancel(ctx)
	drained := make(chan error, 1)
	go func() {
		drained <- (&spool.Drainer{Spool: sp, Sink: sink, Interval: 20 * time.Millisecond,
			Backoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}).Run(dctx)
	}()
	defer func() { stopDrain(); <-drained }()
	eventually(t, 20*time.Second, func() error {
		if failures.Load() < 3 {
			return errors.New("fewer than 3 failed deliveries")
		}
		return nil
	})
	if keys, _ := sp.Pending(); len(keys) != 2 {
		t.Fatalf("pending while the Backend is down: %v", keys)
	}

	b.start()
	eventually(t, 20*time.Second, func() error {
		if keys, _ := sp.Pending(); len(keys) != 0 {
			return errors.New("spool not drained")
		}
		return nil
	})
	for _, id := range []string{"RC1", "RC2"} {
		c := h.must(200, "GET", "/api/v1/calls/"+id, tok, nil)
		if c["status"] != "completed" || c["end_cause"] != "caller_hangup" || len(c["transcript"].([]any)) != 2 {
			t.Fatalf("%s after the outage: %v", id, c)
		}
	}
	if f, _ := sp.Failed(); len(f) != 0 {
		t.Fatalf("failed: %v", f)
	}
}
