package upstream_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/voxplatform/vox/internal/testnginx"
	"github.com/voxplatform/vox/upstream"
)

// noKeepAlive is a client that opens a new connection per request, so that
// requests spread over nginx's worker processes.
var noKeepAlive = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := noKeepAlive.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// nameBackend serves its name on a unix socket in dir and returns the path.
func nameBackend(t *testing.T, dir, name string) string {
	p := filepath.Join(dir, name+".sock")
	testnginx.ServeUnix(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name)
	}))
	return p
}

const proxySite = `
include %s;
server {
    listen {{.Addr}}%s;
    location / {
        proxy_pass http://voxfleet_workers;
        proxy_next_upstream error timeout http_429 non_idempotent;
        proxy_next_upstream_tries 0;
    }
}
`

func TestManagerDrivesRealNginx(t *testing.T) {
	dir := testnginx.ShortTempDir(t)
	file := filepath.Join(dir, "upstream.conf")
	a, b, c := nameBackend(t, dir, "a"), nameBackend(t, dir, "b"), nameBackend(t, dir, "c")
	if err := os.WriteFile(file, upstream.Render(upstream.Params{}), 0o644); err != nil {
		t.Fatal(err)
	}
	n := testnginx.Start(t, testnginx.Options{Workers: 4, Site: fmt.Sprintf(proxySite, file, "")})
	if code, _ := get(t, n.URL("/")); code != http.StatusBadGateway {
		t.Fatalf("with no workers GET / = %d, want 502", code)
	}

	reg := prometheus.NewRegistry()
	m, err := upstream.New(upstream.Config{
		File: file, TestCmd: n.TestCmd(), ReloadCmd: n.ReloadCmd(), Window: 50 * time.Millisecond,
	}, slog.New(slog.DiscardHandler), reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()

	// servedBy waits until consecutive requests are answered only by want,
	// and by each of them.
	servedBy := func(want ...string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			seen := map[string]bool{}
			ok := true
			for range 12 {
				code, body := get(t, n.URL("/"))
				if code != 200 || !slices.Contains(want, body) {
					ok = false
					break
				}
				seen[body] = true
			}
			if ok && len(seen) == len(want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("nginx not serving through exactly %q\n%s", want, n.ErrorLogTail(20))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	m.Update([]string{a})
	servedBy("a")
	m.Update([]string{c, b})
	servedBy("b", "c")
	if got := m.Applied(); !slices.Equal(got, []string{b, c}) {
		t.Fatalf("Applied = %q", got)
	}
	if out, err := os.ReadFile(file); err != nil || !strings.Contains(string(out), "unix:"+b+" max_conns=1") {
		t.Fatalf("upstream file: %s %v", out, err)
	}
	// Scale to zero: nginx still accepts the file (placeholder) and answers 502.
	m.Update(nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := get(t, n.URL("/")); code == http.StatusBadGateway {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx still serving after scaling to zero\n%s", n.ErrorLogTail(20))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMaxConnsHoldsAcrossNginxWorkers proves what the zone directive is for:
// with four nginx worker processes and connections spread over them
// (reuseport), a worker with max_conns=1 never serves two requests at once.
// Without the zone each nginx worker process counts on its own, and the same
// test sees several requests at once on the one backend.
func TestMaxConnsHoldsAcrossNginxWorkers(t *testing.T) {
	tests := []struct {
		name       string
		stripZone  bool
		wantSingle bool
	}{
		{"rendered with zone", false, true},
		{"control: zone removed", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := testnginx.ShortTempDir(t)
			sock := filepath.Join(dir, "slow.sock")
			var active, peak, served atomic.Int32
			testnginx.ServeUnix(t, sock, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				now := active.Add(1)
				for {
					p := peak.Load()
					if now <= p || peak.CompareAndSwap(p, now) {
						break
					}
				}
				time.Sleep(700 * time.Millisecond) // a call in progress
				active.Add(-1)
				served.Add(1)
				io.WriteString(w, "served")
			}))
			conf := string(upstream.Render(upstream.Params{Sockets: []string{sock}}))
			if tt.stripZone {
				conf = strings.Replace(conf, "    zone voxfleet_workers 64k;\n", "", 1)
			}
			file := filepath.Join(dir, "upstream.conf")
			if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			n := testnginx.Start(t, testnginx.Options{Workers: 4, Site: fmt.Sprintf(proxySite, file, " reuseport")})

			const clients = 8
			codes := make([]int, clients)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					resp, err := noKeepAlive.Get(n.URL("/"))
					if err != nil {
						t.Errorf("GET: %v", err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					codes[i] = resp.StatusCode
				}()
			}
			close(start)
			wg.Wait()
			ok := 0
			for _, c := range codes {
				if c == http.StatusOK {
					ok++
				}
			}
			t.Logf("peak concurrent requests on the backend: %d; answers: %v", peak.Load(), codes)
			if tt.wantSingle {
				if peak.Load() != 1 {
					t.Fatalf("backend saw %d requests at once, want 1 (max_conns=1 across nginx workers)", peak.Load())
				}
				if ok < 1 || ok == clients {
					t.Fatalf("%d of %d requests served, want at least one and not all: %v", ok, clients, codes)
				}
				if strings.Count(n.ErrorLogTail(200), "no live upstreams") == 0 {
					t.Errorf("refused requests not logged as 'no live upstreams':\n%s", n.ErrorLogTail(20))
				}
				return
			}
			if peak.Load() < 2 {
				t.Fatalf("control: without zone the backend saw only %d request at once; the test cannot tell zone from no zone", peak.Load())
			}
		})
	}
}

// TestBusyWorkerIsNotBenched proves why servers carry max_fails=0: a 429 that
// nginx retries on another worker would otherwise count as a failure and
// bench the busy worker for fail_timeout (10 s), even though it frees a
// moment later.
func TestBusyWorkerIsNotBenched(t *testing.T) {
	tests := []struct {
		name        string
		stripFails  bool
		wantFreedOK bool
	}{
		{"rendered with max_fails=0", false, true},
		{"control: nginx default max_fails=1", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := testnginx.ShortTempDir(t)
			var busyA, busyB atomic.Bool
			var hitsA atomic.Int32
			backend := func(name string, busy *atomic.Bool, hits *atomic.Int32) string {
				p := filepath.Join(dir, name+".sock")
				testnginx.ServeUnix(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if hits != nil {
						hits.Add(1)
					}
					if busy.Load() {
						w.WriteHeader(http.StatusTooManyRequests)
						io.WriteString(w, `{"error":"busy"}`)
						return
					}
					io.WriteString(w, name)
				}))
				return p
			}
			a := backend("a", &busyA, &hitsA)
			b := backend("b", &busyB, nil)
			conf := string(upstream.Render(upstream.Params{Sockets: []string{a, b}}))
			if tt.stripFails {
				conf = strings.ReplaceAll(conf, " max_fails=0", "")
			}
			file := filepath.Join(dir, "upstream.conf")
			if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			// One nginx worker: the failure accounting is then certain to be seen.
			n := testnginx.Start(t, testnginx.Options{Workers: 1, Site: fmt.Sprintf(proxySite, file, "")})

			// a is busy: requests that reach it are retried on b.
			busyA.Store(true)
			for i := 0; hitsA.Load() == 0; i++ {
				if i == 10 {
					t.Fatal("no request reached worker a")
				}
				if code, body := get(t, n.URL("/")); code != 200 || body != "b" {
					t.Fatalf("with a busy GET / = %d %q, want 200 from b (429 retried)", code, body)
				}
			}
			// Now a is free and b is busy: the next request must reach a.
			busyA.Store(false)
			busyB.Store(true)
			code, body := get(t, n.URL("/"))
			freedOK := code == 200 && body == "a"
			t.Logf("after a freed: %d %q", code, body)
			if freedOK != tt.wantFreedOK {
				t.Fatalf("request after a freed answered %d %q; served by a = %v, want %v", code, body, freedOK, tt.wantFreedOK)
			}
		})
	}
}
