package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/voxplatform/vox/fleetapi"
)

// SocketName is the control socket's name inside the socket directory.
const SocketName = "control.sock"

// Client talks to one daemon.
type Client struct {
	path string
	http *http.Client
}

// NewClient returns a client for the daemon whose socket directory is dir.
func NewClient(dir string) *Client {
	path := filepath.Join(dir, SocketName)
	return &Client{path: path, http: &http.Client{Transport: fleetapi.NewSocketTransport()}}
}

// Status fetches the fleet's state.
func (c *Client) Status(ctx context.Context) (fleetapi.Fleet, error) {
	var f fleetapi.Fleet
	err := c.do(ctx, http.MethodGet, "/v1/status", nil, &f)
	return f, err
}

// Scale sets the desired worker count.
func (c *Client) Scale(ctx context.Context, n int) (ScaleResponse, error) {
	var r ScaleResponse
	err := c.do(ctx, http.MethodPost, "/v1/scale", ScaleRequest{Workers: &n}, &r)
	return r, err
}

// Drain takes the workers at indices out of service once their calls end.
// The daemon checks every index before it drains any.
func (c *Client) Drain(ctx context.Context, indices ...int) error {
	req := DrainRequest{Indices: indices}
	if len(indices) == 1 {
		req = DrainRequest{Index: indices[0]}
	}
	return c.do(ctx, http.MethodPost, "/v1/drain", req, nil)
}

// Restart replaces workers, calling fn for each progress line.
func (c *Client) Restart(ctx context.Context, req RestartRequest, fn func(Progress)) error {
	return c.stream(ctx, "/v1/restart", req, fn)
}

// Upgrade re-executes the daemon from its binary on disk and rolls the
// workers onto it, calling fn for each progress line.
func (c *Client) Upgrade(ctx context.Context, fn func(Progress)) error {
	return c.stream(ctx, "/v1/upgrade", UpgradeRequest{}, fn)
}

func (c *Client) request(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, fleetapi.SocketURL(c.path)+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("voxfleet daemon at %s: %w", c.path, unwrapDial(err))
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		var eb fleetapi.ErrorBody
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
			eb.Error = fmt.Sprintf("daemon answered %s", resp.Status)
		}
		return nil, &fleetapi.Error{Status: resp.StatusCode, Message: eb.Error}
	}
	return resp, nil
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.request(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode %s answer: %w", path, err)
	}
	return nil
}

func (c *Client) stream(ctx context.Context, path string, body any, fn func(Progress)) error {
	resp, err := c.request(ctx, http.MethodPost, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var p Progress
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return fmt.Errorf("decode progress: %w", err)
		}
		if fn != nil {
			fn(p)
		}
		if p.Done {
			if p.Error != "" {
				return &fleetapi.Error{Status: http.StatusConflict, Message: p.Error}
			}
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read progress: %w", err)
	}
	return errors.New("daemon closed the connection before the operation finished")
}

// unwrapDial turns the common "no daemon" failures into a plain sentence.
func unwrapDial(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return fmt.Errorf("not running or not reachable (%w)", op.Err)
	}
	return err
}

// DefaultTimeout bounds quick control calls (status, scale, drain).
const DefaultTimeout = 10 * time.Second
