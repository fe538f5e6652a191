// Package httpretry posts a request to a provider and retries it when the
// provider refuses it for now (429, 5xx, a connection error), honouring
// Retry-After within a bound. A provider's JSON error message is kept.
//
// httpretry imports nothing of this module.
package httpretry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// StatusError is a refused request.
type StatusError struct {
	Status     int
	Message    string
	RetryAfter time.Duration
}

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message) }

// Temporary reports whether a retry may succeed.
func (e *StatusError) Temporary() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// Policy bounds the retries.
type Policy struct {
	Retries int           // after the first try
	MaxWait time.Duration // longest wait before a retry, Retry-After included
}

// Do sends the request built by build (called again for each try) and
// returns the first 200 response; the caller closes its body.
func Do(ctx context.Context, c *http.Client, p Policy, build func(ctx context.Context) (*http.Request, error)) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		req, err := build(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := c.Do(req)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil || attempt >= p.Retries {
				return nil, err
			}
		case resp.StatusCode == http.StatusOK:
			return resp, nil
		default:
			se := refusal(resp)
			if !se.Temporary() || attempt >= p.Retries {
				return nil, se
			}
			wait = se.RetryAfter
		}
		wait = min(max(wait, time.Duration(attempt+1)*100*time.Millisecond), p.MaxWait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func refusal(resp *http.Response) *StatusError {
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	se := &StatusError{Status: resp.StatusCode, Message: strings.TrimSpace(string(raw))}
	var e struct {
		Error any    `json:"error"`   // OpenAI: {"message": …}; others: a string
		Msg   string `json:"err_msg"` // Deepgram
	}
	if json.Unmarshal(raw, &e) == nil {
		switch v := e.Error.(type) {
		case map[string]any:
			if m, ok := v["message"].(string); ok {
				se.Message = m
			}
		case string:
			se.Message = v
		}
		if e.Msg != "" {
			se.Message = e.Msg
		}
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		se.RetryAfter = time.Duration(s) * time.Second
	}
	return se
}

// JSON builds a JSON POST.
func JSON(url string, body any, header http.Header) func(ctx context.Context) (*http.Request, error) {
	b, err := json.Marshal(body)
	return func(ctx context.Context) (*http.Request, error) {
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		req.Header = header.Clone()
		req.Header.Set("Content-Type", "application/json")
		return req, nil
	}
}
