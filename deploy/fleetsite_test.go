package deploy

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voxplatform/vox/internal/testnginx"
	"github.com/voxplatform/vox/upstream"
)

// fakeWorker stands in for a callslot worker: it answers 429 while busy,
// records what reached it, and holds /ws/hold requests until released.
type fakeWorker struct {
	name    string
	busy    atomic.Bool
	mu      sync.Mutex // guards hits and headers
	hits    []string
	headers []http.Header
	holding atomic.Int32
	release chan struct{}
}

func (w *fakeWorker) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	w.hits = append(w.hits, r.Method+" "+r.URL.Path)
	w.headers = append(w.headers, r.Header.Clone())
	w.mu.Unlock()
	rw.Header().Set("X-Worker", w.name)
	switch {
	case r.URL.Path == "/ws/hold":
		w.holding.Add(1)
		<-w.release
		w.holding.Add(-1)
	case w.busy.Load():
		rw.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(rw, `{"error":"busy"}`)
	case r.URL.Path == "/ws/echo" && r.Header.Get("Upgrade") == "websocket":
		conn, buf, err := rw.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		line, _ := buf.ReadString('\n')
		io.WriteString(conn, "echo "+line)
	default:
		rw.WriteHeader(http.StatusAccepted)
		io.WriteString(rw, `{"worker":"`+w.name+`"}`)
	}
}

func (w *fakeWorker) hitCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.hits)
}

// logSecret stands for a service token sent in ?token=.
const logSecret = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.c2lnbmF0dXJl"

type fleetSite struct {
	dir     string // the site's log files are here
	n       *testnginx.Nginx
	workers []*fakeWorker
	client  *http.Client
}

// startFleetSite runs deploy/nginx/voxfleet.conf in a real nginx with four
// worker processes, in front of three fake workers and a fake daemon.
func startFleetSite(t *testing.T) *fleetSite {
	t.Helper()
	dir := testnginx.ShortTempDir(t)
	fs := &fleetSite{dir: dir}
	var socks []string
	for i := 1; i <= 3; i++ {
		w := &fakeWorker{name: fmt.Sprintf("w%d", i), release: make(chan struct{})}
		p := filepath.Join(dir, w.name+".sock")
		testnginx.ServeUnix(t, p, w)
		fs.workers = append(fs.workers, w)
		socks = append(socks, p)
	}
	t.Cleanup(func() {
		for _, w := range fs.workers {
			select {
			case <-w.release:
			default:
				close(w.release)
			}
		}
	})
	daemon, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		io.WriteString(rw, "daemon "+r.URL.Path)
	})}
	go srv.Serve(daemon)
	t.Cleanup(func() { srv.Close() })

	up := filepath.Join(dir, "upstream.conf")
	write(t, up, string(upstream.Render(upstream.Params{Sockets: socks})))
	site := localize(t, readFile(t, "nginx/voxfleet.conf"), dir, up)
	site = strings.Replace(site, "listen 443 ssl;", "listen {{.Addr}} ssl;", 1)
	site = strings.Replace(site, "listen 80;", "listen unix:"+dir+"/http.sock;", 1)
	site = strings.Replace(site, "server "+envExample(t)["VOXFLEET_LISTEN"]+";", "server "+daemon.Addr().String()+";", 1)
	fs.n = testnginx.Start(t, testnginx.Options{Workers: 4, Site: site})
	fs.client = &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
			DisableKeepAlives: true,
		},
	}
	return fs
}

func (fs *fleetSite) do(t *testing.T, method, path string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, "https://"+fs.n.Addr+path, strings.NewReader(`{"call_id":"c1"}`))
	resp, err := fs.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestFleetSiteRoutes(t *testing.T) {
	fs := startFleetSite(t)
	w1, w2, w3 := fs.workers[0], fs.workers[1], fs.workers[2]

	t.Run("short POSTs retry a 429 past busy workers", func(t *testing.T) {
		w1.busy.Store(true)
		w2.busy.Store(true)
		defer w1.busy.Store(false)
		defer w2.busy.Store(false)
		for _, path := range []string{"/attach", "/livekit/dialout", "/livekit/widget"} {
			for range 4 { // whichever worker least_conn picks first
				code, body, _ := fs.do(t, "POST", path)
				if code != http.StatusAccepted || body != `{"worker":"w3"}` {
					t.Fatalf("POST %s with w1, w2 busy = %d %s, want 202 from w3", path, code, body)
				}
			}
		}
	})

	t.Run("dispatch is never retried on 429", func(t *testing.T) {
		for _, w := range fs.workers {
			w.busy.Store(true)
			defer w.busy.Store(false)
		}
		before := w1.hitCount() + w2.hitCount() + w3.hitCount()
		code, body, _ := fs.do(t, "POST", "/livekit/dispatch")
		if code != http.StatusTooManyRequests || body != `{"error":"busy"}` {
			t.Fatalf("POST /livekit/dispatch to busy workers = %d %s, want the worker's 429", code, body)
		}
		if got := w1.hitCount() + w2.hitCount() + w3.hitCount() - before; got != 1 {
			t.Fatalf("/livekit/dispatch reached %d workers, want exactly 1 (no retry)", got)
		}
		// The same with /attach reaches every worker before giving up.
		before = w1.hitCount() + w2.hitCount() + w3.hitCount()
		code, _, _ = fs.do(t, "POST", "/attach")
		if got := w1.hitCount() + w2.hitCount() + w3.hitCount() - before; got != 3 || code != http.StatusTooManyRequests {
			t.Fatalf("/attach to all-busy workers = %d after %d tries, want 429 after 3", code, got)
		}
	})

	t.Run("Connection header per request type", func(t *testing.T) {
		fs.do(t, "POST", "/livekit/dialout")
		last := func() http.Header {
			var h http.Header
			for _, w := range fs.workers {
				w.mu.Lock()
				for i, hit := range w.hits {
					if hit == "POST /livekit/dialout" {
						h = w.headers[i]
					}
				}
				w.mu.Unlock()
			}
			return h
		}
		h := last()
		if h == nil || h.Get("Upgrade") != "" || !strings.EqualFold(h.Get("Connection"), "close") {
			t.Fatalf("POST reached the worker with Connection %q Upgrade %q, want close and none", h.Get("Connection"), h.Get("Upgrade"))
		}
		if h.Get("X-Forwarded-Proto") != "https" {
			t.Fatalf("X-Forwarded-Proto = %q, want https", h.Get("X-Forwarded-Proto"))
		}
	})

	t.Run("websocket upgrade is tunnelled", func(t *testing.T) {
		conn, err := tls.Dial("tcp", fs.n.Addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(conn, "GET /ws/echo?token="+logSecret+" HTTP/1.1\r\nHost: fleet.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade answered %d, want 101", resp.StatusCode)
		}
		io.WriteString(conn, "hello\n")
		line, err := br.ReadString('\n')
		if err != nil || line != "echo hello\n" {
			t.Fatalf("through the tunnel got %q, %v", line, err)
		}
	})

	t.Run("no free worker is a JSON 503", func(t *testing.T) {
		// Hold one request on every worker: all are at max_conns=1.
		var wg sync.WaitGroup
		for range fs.workers {
			wg.Add(1)
			go func() { defer wg.Done(); fs.do(t, "GET", "/ws/hold") }()
		}
		deadline := time.Now().Add(10 * time.Second)
		for w1.holding.Load()+w2.holding.Load()+w3.holding.Load() < 3 {
			if time.Now().After(deadline) {
				t.Fatalf("holds not spread over the three workers: %d %d %d", w1.holding.Load(), w2.holding.Load(), w3.holding.Load())
			}
			time.Sleep(10 * time.Millisecond)
		}
		for _, path := range []string{"/attach", "/livekit/dispatch", "/ws/twilio?token=" + logSecret} {
			code, body, h := fs.do(t, "POST", path)
			var js map[string]string
			if code != http.StatusServiceUnavailable || json.Unmarshal([]byte(body), &js) != nil || js["error"] != "no free worker" {
				t.Fatalf("%s with every worker in a call = %d %q, want 503 {\"error\":\"no free worker\"}", path, code, body)
			}
			if ct := h.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q, want application/json", ct)
			}
		}
		for _, w := range fs.workers {
			close(w.release)
		}
		wg.Wait()
	})

	t.Run("no service token in any log", func(t *testing.T) {
		// Busy workers (429 retried on each, then returned) and a plain GET.
		for _, w := range fs.workers {
			w.busy.Store(true)
		}
		fs.do(t, "GET", "/ws/twilio?token="+logSecret)
		for _, w := range fs.workers {
			w.busy.Store(false)
		}
		fs.do(t, "GET", "/ws/twilio?token="+logSecret)
		access := filepath.Join(fs.dir, "voxfleet.access.log")
		var logs string
		waitLog := time.Now().Add(10 * time.Second)
		for {
			b, _ := os.ReadFile(access)
			if strings.Count(string(b), "/ws/twilio") >= 3 || time.Now().After(waitLog) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		for _, name := range []string{"voxfleet.access.log", "voxfleet.error.log", "error.log", "access.log"} {
			b, _ := os.ReadFile(filepath.Join(fs.dir, name))
			logs += string(b)
			if strings.Contains(string(b), logSecret) || strings.Contains(string(b), "token=") {
				t.Errorf("%s holds the service token:\n%s", name, b)
			}
		}
		b, _ := os.ReadFile(access)
		if !strings.Contains(string(b), `"POST /ws/twilio HTTP/1.1" 503`) || !strings.Contains(string(b), `"GET /ws/echo HTTP/1.1" 101`) {
			t.Fatalf("access log lacks the /ws/ requests (without their query):\n%s", b)
		}
	})

	t.Run("daemon routes and the rest", func(t *testing.T) {
		if code, body, _ := fs.do(t, "GET", "/health/fleet"); code != 200 || body != "daemon /health/fleet" {
			t.Fatalf("GET /health/fleet = %d %q", code, body)
		}
		if code, body, _ := fs.do(t, "GET", "/metrics"); code != 200 || body != "daemon /metrics" {
			t.Fatalf("GET /metrics from loopback = %d %q", code, body)
		}
		if code, body, _ := fs.do(t, "GET", "/health"); code != 404 || !strings.Contains(body, "not found") {
			t.Fatalf("GET /health (a worker's private route) = %d %q, want 404", code, body)
		}
	})
}
