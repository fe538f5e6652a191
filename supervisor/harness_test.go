package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/voxplatform/vox/control"
	"github.com/voxplatform/vox/fleetapi"
)

// recUpstream records every socket set the daemon publishes.
type recUpstream struct {
	mu   sync.Mutex // guards sets
	sets [][]string
}

func (u *recUpstream) Update(s []string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.sets = append(u.sets, slices.Clone(s))
}

func (u *recUpstream) Run(ctx context.Context) error { <-ctx.Done(); return nil }

func (u *recUpstream) last() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.sets) == 0 {
		return nil
	}
	return u.sets[len(u.sets)-1]
}

func (u *recUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.sets)
}

type harness struct {
	t      *testing.T
	dir    string
	cfg    Config
	s      *Supervisor
	up     *recUpstream
	cancel context.CancelFunc
	done   chan error
	ctl    *control.Client
	base   string // http://addr of /health/fleet and /metrics
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// testConfig is a fast configuration for a daemon in dir.
func testConfig(t *testing.T, dir string, workers int) Config {
	return Config{
		Workers:      workers,
		SocketDir:    dir,
		StateFile:    filepath.Join(dir, "state.json"),
		Listen:       freeAddr(t),
		UpstreamFile: filepath.Join(dir, "upstream.conf"),
		StopTimeout:  10 * time.Second,
		KillGrace:    time.Second,
		ReadyTimeout: 5 * time.Second,
		ProbeEvery:   100 * time.Millisecond,
		ProbeTimeout: 200 * time.Millisecond,
		HungGrace:    time.Second,
		WorkerBinary: os.Args[0],
	}.WithDefaults()
}

func startDaemon(t *testing.T, cfg Config) *harness {
	t.Helper()
	up := &recUpstream{}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New(cfg, logger.With("component", "supervisor"), prometheus.NewRegistry(), up, "test")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, dir: cfg.SocketDir, cfg: cfg, s: s, up: up, cancel: cancel, done: make(chan error, 1),
		ctl: control.NewClient(cfg.SocketDir), base: "http://" + cfg.Listen}
	go func() { h.done <- s.Run(ctx) }()
	t.Cleanup(func() { h.stop() })
	return h
}

// stop ends the daemon and waits for it; safe to call twice.
func (h *harness) stop() error {
	h.cancel()
	select {
	case err, ok := <-h.done:
		if ok {
			close(h.done)
		}
		return err
	case <-time.After(30 * time.Second):
		h.t.Fatal("daemon did not stop within 30s")
	}
	return nil
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(b[:len(b)-1]))
	return len(b), nil
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *harness) fleet() (fleetapi.Fleet, int) {
	resp, err := http.Get(h.base + "/health/fleet")
	if err != nil {
		return fleetapi.Fleet{}, 0
	}
	defer resp.Body.Close()
	var f fleetapi.Fleet
	json.NewDecoder(resp.Body).Decode(&f)
	return f, resp.StatusCode
}

func (h *harness) waitReady(n int) fleetapi.Fleet {
	h.t.Helper()
	var f fleetapi.Fleet
	waitFor(h.t, 10*time.Second, fmt.Sprintf("%d ready workers", n), func() bool {
		f, _ = h.fleet()
		return f.Ready == n && len(h.up.last()) == n
	})
	return f
}

func (h *harness) worker(f fleetapi.Fleet, index int) fleetapi.FleetWorker {
	for _, w := range f.Workers {
		if w.Index == index && !w.Retired {
			return w
		}
	}
	h.t.Fatalf("no worker %d in %+v", index, f.Workers)
	return fleetapi.FleetWorker{}
}

// placeCall starts a call of length d on the worker at path; the returned
// channel yields the response body and status once the call ends.
type callResult struct {
	status int
	body   string
	err    error
}

func placeCall(path, id string, d time.Duration) <-chan callResult {
	ch := make(chan callResult, 1)
	go func() {
		resp, err := fleetapi.Socket(path).Do(context.Background(), http.MethodPost,
			fmt.Sprintf("/call?id=%s&ms=%d", id, d.Milliseconds()), false, nil, nil)
		if err != nil {
			ch <- callResult{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		ch <- callResult{status: resp.StatusCode, body: string(b), err: err}
	}()
	return ch
}
