package fleetapi

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/voxplatform/vox/svcauth"
)

// DefaultTimeout bounds one request of a Client.
const DefaultTimeout = 10 * time.Second

// maxAnswer bounds an answer body a Client reads.
const maxAnswer = 1 << 20

// socketSuffix marks a URL host that names a Unix socket (see SocketURL).
const socketSuffix = ".sock.invalid"

// SocketURL returns the base URL that reaches the HTTP server on the Unix
// socket at path through SocketTransport (or a Client). The socket path is
// carried, hex-encoded, in the host name, so one transport keeps one pool of
// connections per socket.
func SocketURL(path string) string {
	return "http://" + hex.EncodeToString([]byte(path)) + socketSuffix
}

// socketPath returns the socket path a host made by SocketURL names.
func socketPath(addr string) (string, bool) {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	enc, ok := strings.CutSuffix(host, socketSuffix)
	if !ok {
		return "", false
	}
	b, err := hex.DecodeString(enc)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// DialSocket dials the Unix socket at path.
func DialSocket(ctx context.Context, path string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "unix", path)
}

// NewSocketTransport returns a transport that reaches Unix sockets through
// the URLs of SocketURL, and TCP hosts as usual. It keeps at most one idle
// connection per host.
func NewSocketTransport() *http.Transport {
	var d net.Dialer
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if path, ok := socketPath(addr); ok {
				return d.DialContext(ctx, "unix", path)
			}
			return d.DialContext(ctx, network, addr)
		},
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
}

// socketTransport is shared by every Client made without WithHTTPClient.
var socketTransport = NewSocketTransport()

// TokenFunc returns the bearer token of one request.
type TokenFunc func(ctx context.Context) (string, error)

// Client speaks the fleet's HTTP contract to one worker or one daemon.
// It is safe for concurrent use.
type Client struct {
	base    string
	target  string
	hc      *http.Client
	token   TokenFunc
	timeout time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the Client send through hc. For a socket target hc's
// transport must dial SocketURL hosts (NewSocketTransport does).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithTimeout bounds each request (default DefaultTimeout; 0 means none
// beyond the context's).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithToken sets the bearer token of every authenticated request.
func WithToken(f TokenFunc) Option { return func(c *Client) { c.token = f } }

// WithFleetToken signs every authenticated request with a fresh service
// token for fleet host fleetID (svcauth.FleetAudience), naming subject as
// the caller.
func WithFleetToken(secret []byte, fleetID, subject string) Option {
	aud := svcauth.FleetAudience(fleetID)
	return WithToken(func(context.Context) (string, error) {
		return svcauth.Sign(secret, aud, subject, svcauth.DefaultTTL)
	})
}

// New returns a client of target: an http:// or https:// base URL (a
// fleet host behind nginx, or a daemon's listener), or a Unix socket given
// as "unix:PATH" or as an absolute path.
func New(target string, opts ...Option) (*Client, error) {
	c := &Client{target: target, timeout: DefaultTimeout}
	switch {
	case strings.HasPrefix(target, "unix:"):
		c.base = SocketURL(strings.TrimPrefix(target, "unix:"))
	case strings.HasPrefix(target, "/"):
		c.base = SocketURL(target)
	case strings.HasPrefix(target, "http://"), strings.HasPrefix(target, "https://"):
		c.base = strings.TrimRight(target, "/")
	default:
		return nil, fmt.Errorf("fleet target %q: want http(s)://HOST, unix:PATH or an absolute socket path", target)
	}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = &http.Client{Transport: socketTransport}
	}
	return c, nil
}

// Socket returns a client of the Unix socket at path; see New.
func Socket(path string, opts ...Option) *Client {
	c, _ := New("unix:"+path, opts...)
	return c
}

// Target is what the client was made for.
func (c *Client) Target() string { return c.target }

// Health asks a worker for its GET /health.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	err := c.do(ctx, http.MethodGet, PathHealth, false, nil, nil, &h)
	return h, err
}

// FleetHealth asks a daemon for its GET /health/fleet. A 503 (no worker
// up) returns the body it carried with an *Error.
func (c *Client) FleetHealth(ctx context.Context) (Fleet, error) {
	var f Fleet
	err := c.do(ctx, http.MethodGet, PathFleetHealth, false, nil, nil, &f)
	return f, err
}

// Attach hands an answered call over to a worker (POST /attach). A 429
// (IsBusy) means the worker is busy or draining.
func (c *Client) Attach(ctx context.Context, req AttachRequest) (CallResponse, error) {
	return c.call(ctx, PathAttach, req)
}

// Dialout asks a worker to place a SIP call and run the agent on it (POST
// /livekit/dialout).
func (c *Client) Dialout(ctx context.Context, req DialoutRequest) (CallResponse, error) {
	return c.call(ctx, PathDialout, req)
}

// Widget asks a worker to take a browser caller's call (POST
// /livekit/widget).
func (c *Client) Widget(ctx context.Context, req WidgetRequest) (CallResponse, error) {
	return c.call(ctx, PathWidget, req)
}

// Dispatch posts a LiveKit webhook body to /livekit/dispatch as LiveKit
// would, with authorization (LiveKit's signed token) as its Authorization
// header.
func (c *Client) Dispatch(ctx context.Context, body []byte, authorization string) (CallResponse, error) {
	var r CallResponse
	h := http.Header{"Content-Type": {"application/webhook+json"}, "Authorization": {authorization}}
	err := c.do(ctx, http.MethodPost, PathDispatch, false, h, bytes.NewReader(body), &r)
	return r, err
}

func (c *Client) call(ctx context.Context, path string, req any) (CallResponse, error) {
	var r CallResponse
	b, err := json.Marshal(req)
	if err != nil {
		return r, fmt.Errorf("encode %s: %w", path, err)
	}
	h := http.Header{"Content-Type": {"application/json"}}
	err = c.do(ctx, http.MethodPost, path, true, h, bytes.NewReader(b), &r)
	return r, err
}

// Do sends one request to path and returns the raw response for routes
// the typed methods do not cover; auth adds the bearer token. The caller
// closes the body.
func (c *Client) Do(ctx context.Context, method, path string, auth bool, header http.Header, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if auth && c.token != nil {
		tok, err := c.token(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s %s: token: %w", method, path, err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s on %s: %w", method, path, c.target, unwrapURL(err))
	}
	return resp, nil
}

func (c *Client) do(ctx context.Context, method, path string, auth bool, header http.Header, body io.Reader, out any) error {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	resp, err := c.Do(ctx, method, path, auth, header, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("%s %s on %s: read answer: %w", method, path, c.target, err)
	}
	if resp.StatusCode >= 300 {
		e := &Error{Status: resp.StatusCode}
		var eb ErrorBody
		if json.Unmarshal(b, &eb) == nil && eb.Error != "" {
			e.Message = eb.Error
		} else {
			e.Message = http.StatusText(resp.StatusCode)
			if out != nil {
				_ = json.Unmarshal(b, out) // a 503 /health/fleet still says why
			}
		}
		return fmt.Errorf("%s %s on %s: status %d: %w", method, path, c.target, resp.StatusCode, e)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s on %s: decode answer: %w", method, path, c.target, err)
	}
	return nil
}

// unwrapURL drops the *url.Error layer, whose message repeats the
// hex-encoded socket URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && strings.Contains(ue.URL, socketSuffix) {
		return ue.Err
	}
	return err
}
