package supervisor

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/voxplatform/vox/fleetapi"
)

// healthClient asks workers for /health over their sockets, reusing one
// kept-alive connection per socket.
type healthClient struct {
	c *http.Client
}

func newHealthClient() *healthClient {
	return &healthClient{c: &http.Client{Transport: fleetapi.NewSocketTransport()}}
}

// get asks the worker on path for its health, within timeout.
func (h *healthClient) get(ctx context.Context, path string, timeout time.Duration) (fleetapi.Health, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return h.do(ctx, path)
}

func (h *healthClient) do(ctx context.Context, path string) (fleetapi.Health, error) {
	return fleetapi.Socket(path, fleetapi.WithHTTPClient(h.c), fleetapi.WithTimeout(0)).Health(ctx)
}

// waitReady asks path for /health until it answers or ctx ends. The daemon
// binds the socket before the worker starts, so a first request simply waits
// in the listen backlog until the worker serves it.
func (h *healthClient) waitReady(ctx context.Context, path string) (fleetapi.Health, error) {
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
