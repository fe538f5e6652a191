package callslot

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/lifeline"
	"github.com/voxplatform/vox/svcauth"
	"github.com/voxplatform/vox/twilio"
)

var testSecret = []byte("callslot-test-secret-0123456789")

// testFleetID is the fleet identity of every test worker.
const testFleetID = "test-fleet"

// harness is one worker serving on a real Unix socket with a real lifeline.
type harness struct {
	t      *testing.T
	w      *Worker
	sock   string
	http   *http.Client // reaches the socket through base
	base   string       // fleetapi.SocketURL of sock
	parent net.Conn     // the daemon's end of the lifeline
	cancel context.CancelFunc
	runErr chan error

	mu     sync.Mutex // guards events
	events []lifeline.Event
}

func startWorker(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "w.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	parent, child, err := lifeline.Pair()
	if err != nil {
		t.Fatal(err)
	}
	childConn, err := net.FileConn(child)
	child.Close()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Index: 3, Listener: ln, Lifeline: childConn, Secret: testSecret, FleetID: testFleetID, Version: "test-1"}
	if mod != nil {
		mod(&cfg)
	}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w, err := New(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, w: w, sock: sock, parent: parent, runErr: make(chan error, 1)}
	h.http = &http.Client{Timeout: 5 * time.Second, Transport: fleetapi.NewSocketTransport()}
	h.base = fleetapi.SocketURL(sock)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		_ = lifeline.Read(parent, func(e lifeline.Event) {
			h.mu.Lock()
			h.events = append(h.events, e)
			h.mu.Unlock()
		})
	}()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.runErr <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.runErr:
		case <-time.After(20 * time.Second):
			t.Error("Run did not return after cancel")
		}
		parent.Close()
		<-readDone
		h.http.CloseIdleConnections()
	})
	h.waitEvent(lifeline.KindReady, "")
	return h
}

// testWriter sends log lines to t.Log, so they show only on failure.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) eventsCopy() []lifeline.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]lifeline.Event(nil), h.events...)
}

// waitEvent waits for an event of kind (and callID, when set) and returns it.
func (h *harness) waitEvent(kind, callID string) lifeline.Event {
	h.t.Helper()
	var got lifeline.Event
	waitFor(h.t, 10*time.Second, "lifeline event "+kind, func() bool {
		for _, e := range h.eventsCopy() {
			if e.Kind == kind && (callID == "" || e.CallID == callID) {
				got = e
				return true
			}
		}
		return false
	})
	return got
}

func (h *harness) health() fleetapi.Health {
	h.t.Helper()
	hl, err := h.client().Health(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return hl
}

// client is a fleetapi client of the worker with a valid token.
func (h *harness) client() *fleetapi.Client {
	return fleetapi.Socket(h.sock, fleetapi.WithHTTPClient(h.http), fleetapi.WithFleetToken(testSecret, testFleetID, "test"))
}

func (h *harness) waitState(state fleetapi.WorkerState) {
	h.t.Helper()
	waitFor(h.t, 10*time.Second, "state "+string(state), func() bool {
		s, _ := h.w.State()
		return s == state
	})
}

// post sends body to path with a token (none when token is "") and returns
// the status and the decoded JSON body.
func (h *harness) post(path, token string, body []byte) (int, map[string]any) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.base+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := h.http.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	return decodeResponse(h.t, resp)
}

func decodeResponse(t *testing.T, resp *http.Response) (int, map[string]any) {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("status %d: body is not JSON: %q", resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

func token(t *testing.T) string {
	t.Helper()
	tok, err := svcauth.Sign(testSecret, svcauth.FleetAudience(testFleetID), "test", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// dial opens a Twilio stream to the worker with a valid token.
func (h *harness) dial(ctx context.Context) (*twilio.Client, *http.Response, error) {
	return twilio.Dial(ctx, twilio.ClientConfig{URL: "ws://worker/ws/twilio", SocketPath: h.sock, Token: token(h.t)})
}

// call dials and starts a stream, and waits for it to be admitted.
func (h *harness) call(ctx context.Context) *twilio.Client {
	h.t.Helper()
	c, _, err := h.dial(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = c.Close() })
	if err := c.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.waitEvent(lifeline.KindCallStart, c.CallSID())
	return c
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// heard reports whether the client has received voiced audio and the named
// mark.
func heard(mark string) func(twilio.Stats) bool {
	return func(s twilio.Stats) bool {
		if s.VoicedBytes == 0 {
			return false
		}
		for _, m := range s.Marks {
			if m == mark {
				return true
			}
		}
		return false
	}
}

func closed(s twilio.Stats) bool { return s.Closed }
