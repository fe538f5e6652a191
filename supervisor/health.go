package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// workerHealth is a worker's GET /health answer.
type workerHealth struct {
	State   string `json:"state"` // idle, busy, draining
	CallID  string `json:"call_id"`
	PID     int    `json:"pid"`
	Index   int    `json:"index"`
	Version string `json:"version"`
}

// healthClient asks workers for /health over their sockets, reusing one
// kept-alive connection per socket.
type healthClient struct {
	c *http.Client
}

func newHealthClient() *healthClient {
	tr := &http.Transport{
		// The URL's host carries the socket path, hex-free: see get.
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socketFromHost(addr))
		},
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	return &healthClient{c: &http.Client{Transport: tr}}
}

// The http package needs a host name per socket; the path is carried in the
// host, with '/' written as '~' (a character Unix socket paths here never hold).
func hostFromSocket(path string) string { return strings.ReplaceAll(path, "/", "~") }

func socketFromHost(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		addr = h
	}
	return strings.ReplaceAll(addr, "~", "/")
}

// get asks the worker on path for its health, within timeout.
func (h *healthClient) get(ctx context.Context, path string, timeout time.Duration) (workerHealth, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return h.do(ctx, path)
}

func (h *healthClient) do(ctx context.Context, path string) (workerHealth, error) {
	var wh workerHealth
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+hostFromSocket(path)+"/health", nil)
	if err != nil {
		return wh, err
	}
	resp, err := h.c.Do(req)
	if err != nil {
		return wh, fmt.Errorf("GET /health on %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return wh, fmt.Errorf("GET /health on %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return wh, fmt.Errorf("GET /health on %s: status %d", path, resp.StatusCode)
	}
	if err := json.Unmarshal(b, &wh); err != nil {
		return wh, fmt.Errorf("GET /health on %s: %w", path, err)
	}
	return wh, nil
}

// waitReady asks path for /health until it answers or ctx ends. The daemon
// binds the socket before the worker starts, so a first request simply waits
// in the listen backlog until the worker serves it.
func (h *healthClient) waitReady(ctx context.Context, path string) (workerHealth, error) {
	delay := 2 * time.Millisecond
	for {
		wh, err := h.do(ctx, path)
		if err == nil {
			return wh, nil
		}
		select {
		case <-ctx.Done():
			return wh, errors.Join(ctx.Err(), err)
		case <-time.After(delay):
		}
		delay = min(delay*2, 100*time.Millisecond)
	}
}
