package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/voxplatform/vox/api"
)

// TestShutdownDrains stops the server while an upload is half sent and an
// event stream is open: the upload still completes, the stream is told to
// go, and Serve returns.
func TestShutdownDrains(t *testing.T) {
	m, r := sharedServers(t)
	cfg := testConfig(t, m, r)
	http.DefaultClient.CloseIdleConnections()
	baseline := goroutines()
	srv, err := api.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	h := &harness{t: t, srv: srv, cfg: cfg, base: "http://" + ln.Addr().String()}
	if err := srv.EnsureIndexes(context.Background()); err != nil {
		t.Fatal(err)
	}
	tok, _ := h.org("Drain Org")
	agent := h.must(201, "POST", "/api/v1/agents", tok, agentBody("D"))["id"].(string)
	camp := h.must(201, "POST", "/api/v1/campaigns", tok, campaignBody(agent))["id"].(string)
	events := openEvents(t, h, tok)

	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", h.base+"/api/v1/campaigns/"+camp+"/contacts", pr)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "text/csv")
	req.ContentLength = int64(len("phone\n+442079460001\n+442079460002\n"))
	type result struct {
		status int
		body   string
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			res <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		res <- result{status: resp.StatusCode, body: string(b)}
	}()
	if _, err := pw.Write([]byte("phone\n+442079460001\n")); err != nil {
		t.Fatal(err)
	}
	// The event stream and the upload are both open on the server.
	eventually(t, 5*time.Second, func() error {
		if n := srv.App().Server().GetOpenConnectionsCount(); n < 2 {
			return fmt.Errorf("%d open connections", n)
		}
		return nil
	})
	cancel()
	e, _ := events.next(t, 5*time.Second)
	if !strings.HasPrefix(e, "event: shutdown") {
		t.Fatalf("event stream got %q, want shutdown", e)
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := pw.Write([]byte("+442079460002\n")); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	out := <-res
	if out.err != nil || out.status != 200 || !strings.Contains(out.body, `"inserted":2`) {
		t.Fatalf("in-flight upload: %+v", out)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after draining")
	}
	// Nothing the server started outlives it.
	events.resp.Body.Close()
	srv.Close()
	http.DefaultClient.CloseIdleConnections()
	eventually(t, 10*time.Second, func() error {
		if n := goroutines(); n > baseline {
			buf := make([]byte, 1<<16)
			return fmt.Errorf("%d goroutines, %d before the server started:\n%s", n, baseline, buf[:runtime.Stack(buf, true)])
		}
		return nil
	})
}

// goroutines counts the running goroutines, less two of fasthttp's: its
// process-wide clock, which the first server starts and nothing stops, and a
// stopped server's idle-worker cleaner, which notices the stop at its next
// 10 s tick.
func goroutines() int {
	buf := make([]byte, 1<<20)
	n := 0
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.TrimSpace(g) != "" && !strings.Contains(g, "fasthttp.updateServerDate") &&
			!strings.Contains(g, "fasthttp.(*workerPool).Start") {
			n++
		}
	}
	return n
}
