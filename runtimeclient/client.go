package runtimeclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/svcauth"
)

// Config configures a Client; zero durations and counts take the defaults.
type Config struct {
	// BaseURL is the Backend's base URL, e.g. http://10.0.0.5:8080.
	BaseURL string
	// Secret is VOX_SERVICE_SECRET.
	Secret []byte
	// Subject names the calling service in its tokens (default "voxfleet").
	Subject string
	// Timeout bounds one attempt (default 5 s).
	Timeout time.Duration
	// Attempts is how many times a request is tried (default 4).
	Attempts int
	// Backoff is the first wait between attempts (default 200 ms), doubled
	// each time up to MaxBackoff (default 2 s), with ±25% jitter.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// HTTPClient sends the requests (default: a client of its own).
	HTTPClient *http.Client
	// MaxBody bounds the body of one PUT of a call record (default 48 KiB,
	// under the Backend's default JSON limit of 64 KiB): a record with a
	// longer transcript is sent in several PUTs (see PutCall).
	MaxBody int
}

// Client talks to the Backend's runtime API. It is safe for concurrent use.
type Client struct {
	base *url.URL
	cfg  Config
}

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("backend URL %q: must be an http(s) URL", cfg.BaseURL)
	}
	if err := svcauth.ValidateSecret(string(cfg.Secret)); err != nil {
		return nil, fmt.Errorf("service secret: %w", err)
	}
	if cfg.Subject == "" {
		cfg.Subject = "voxfleet"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 4
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 200 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 2 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 48 << 10
	}
	return &Client{base: u, cfg: cfg}, nil
}

// Error is an answer of the Backend other than success.
type Error struct {
	Status  int    // HTTP status
	Message string // the body's "error"
}

func (e *Error) Error() string {
	return fmt.Sprintf("backend answered %d: %s", e.Status, e.Message)
}

// Permanent reports whether err is an answer that a retry would not
// change: a 4xx other than 408 and 429. Network errors and 5xx are not.
func Permanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status >= 400 && e.Status < 500 &&
		e.Status != http.StatusRequestTimeout && e.Status != http.StatusTooManyRequests
}

// NotFound reports whether err is the Backend's 404.
func NotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// Agent returns the runtime configuration of agent id.
func (c *Client) Agent(ctx context.Context, id string) (runtimeapi.Agent, error) {
	var a runtimeapi.Agent
	err := c.do(ctx, http.MethodGet, runtimeapi.PathAgent+url.PathEscape(id), nil, &a)
	return a, err
}

// AgentByNumber returns the runtime configuration of the agent that
// answers the E.164 number e164.
func (c *Client) AgentByNumber(ctx context.Context, e164 string) (runtimeapi.Agent, error) {
	var a runtimeapi.Agent
	err := c.do(ctx, http.MethodGet, runtimeapi.PathAgentByNumber+url.PathEscape(e164), nil, &a)
	return a, err
}

// PutCall writes the state of call callID. Writing the same record again
// changes nothing, and an earlier state never overwrites a later one, so a
// retried or replayed PutCall is safe.
//
// A record whose body would pass MaxBody is sent in parts: the record with
// as much of the transcript as fits, then the rest of the transcript in
// further PUTs of the same status (transcript entries are appended by seq,
// so a part sent twice adds nothing).
func (c *Client) PutCall(ctx context.Context, callID string, rec runtimeapi.CallRecord) error {
	if !runtimeapi.ValidCallID(callID) {
		return fmt.Errorf("put call: bad call id %q", callID)
	}
	path := runtimeapi.PathCall + url.PathEscape(callID)
	rest := rec.Transcript
	for first := true; first || len(rest) > 0; first = false {
		part := runtimeapi.CallRecord{AgentID: rec.AgentID, Status: rec.Status}
		if first {
			part = rec
		}
		part.Transcript = nil
		body, err := json.Marshal(part)
		if err != nil {
			return fmt.Errorf("put call %s: %w", callID, err)
		}
		// Add entries while the body stays under MaxBody (at least one,
		// whatever its size: the Backend bounds an entry's text).
		n, size := 0, len(body)+len(`,"transcript":[]`)
		for n < len(rest) {
			eb, err := json.Marshal(rest[n])
			if err != nil {
				return fmt.Errorf("put call %s: %w", callID, err)
			}
			if n > 0 && size+len(eb)+1 > c.cfg.MaxBody {
				break
			}
			size += len(eb) + 1
			n++
		}
		if n > 0 {
			part.Transcript = rest[:n]
			if body, err = json.Marshal(part); err != nil {
				return fmt.Errorf("put call %s: %w", callID, err)
			}
		}
		rest = rest[n:]
		if err := c.do(ctx, http.MethodPut, path, body, nil); err != nil {
			return err
		}
	}
	return nil
}

// SelectFleet returns a fleet host with a free slot for a call of orgID.
func (c *Client) SelectFleet(ctx context.Context, orgID string) (runtimeapi.FleetChoice, error) {
	var f runtimeapi.FleetChoice
	err := c.do(ctx, http.MethodGet, runtimeapi.PathFleetSelect+"?org_id="+url.QueryEscape(orgID), nil, &f)
	return f, err
}

// do sends a request, retrying as the package doc says, and decodes a 2xx
// body into out (when out is not nil).
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	op := method + " " + path
	wait := c.cfg.Backoff
	var last error
	for attempt := 1; ; attempt++ {
		last = c.once(ctx, method, path, body, out)
		if last == nil || Permanent(last) || attempt >= c.cfg.Attempts || ctx.Err() != nil {
			break
		}
		jitter := time.Duration((rand.Float64() - 0.5) * 0.5 * float64(wait))
		t := time.NewTimer(wait + jitter)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w (last: %v)", op, ctx.Err(), last)
		case <-t.C:
		}
		wait = min(2*wait, c.cfg.MaxBackoff)
	}
	if last != nil {
		return fmt.Errorf("%s: %w", op, last)
	}
	return nil
}

func (c *Client) once(ctx context.Context, method, path string, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	tok, err := svcauth.Sign(c.cfg.Secret, svcauth.AudienceRuntime, c.cfg.Subject, 0)
	if err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var eb fleetapi.ErrorBody // the Backend's error body too
		if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
			eb.Error = strings.TrimSpace(string(b[:min(len(b), 200)]))
		}
		return &Error{Status: resp.StatusCode, Message: eb.Error}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("decode answer: %w", err)
		}
	}
	return nil
}
