package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/store"
)

// DevAgentName is the agent `voxdev call` places its test calls with; it
// is created in the development organisation on first use.
const DevAgentName = "Dev test agent"

// Backend is the development user's session with the running stack's
// Backend, reached through the API site's nginx as the Console reaches it.
type Backend struct {
	base  string // the API site, e.g. http://127.0.0.1:7700
	token string // the development user's access token
	hc    *http.Client
}

// apiError is a non-2xx answer of the Backend.
type apiError struct {
	Method, URL string
	Status      int
	Body        string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.Status, e.Body)
}

// Login signs the development user in to the Backend of the stack running
// from dir.
func Login(ctx context.Context, dir string) (*Backend, error) {
	st, err := runningState(dir)
	if err != nil {
		return nil, err
	}
	sec, err := loadSecrets(dir)
	if err != nil {
		return nil, err
	}
	base, err := ConsoleURL(dir)
	if err != nil {
		return nil, err
	}
	b := &Backend{base: base, hc: &http.Client{Timeout: 10 * time.Second}}
	var pair struct {
		AccessToken string `json:"access_token"`
	}
	login := map[string]string{"email": st.Login, "password": sec["VOXBRIDGE_BOOTSTRAP_PASSWORD"]}
	if err := b.do(ctx, http.MethodPost, "/api/v1/auth/login", login, &pair); err != nil {
		return nil, fmt.Errorf("log in as %s: %w", st.Login, err)
	}
	b.token = pair.AccessToken
	return b, nil
}

// DevAgent returns the id of the development organisation's test agent
// (DevAgentName), creating it when it does not exist: the scripted agent
// with a greeting, recording on, so a test call leaves both a call record
// and a recording.
func (b *Backend) DevAgent(ctx context.Context) (string, error) {
	var page store.Page[store.Agent]
	if err := b.do(ctx, http.MethodGet, "/api/v1/agents?name="+url.QueryEscape(DevAgentName), nil, &page); err != nil {
		return "", err
	}
	for _, a := range page.Items {
		if a.Name == DevAgentName {
			return a.ID, nil
		}
	}
	in := map[string]any{
		"name":             DevAgentName,
		"language":         "en-US",
		"greeting":         "Hello, this is the Vox development stack.",
		"recording":        true,
		"max_call_seconds": 120,
	}
	var a store.Agent
	if err := b.do(ctx, http.MethodPost, "/api/v1/agents", in, &a); err != nil {
		return "", fmt.Errorf("create the test agent: %w", err)
	}
	return a.ID, nil
}

// Call is the Backend's record of one call, with a link to its recording.
type Call struct {
	store.Call
	RecordingURL string `json:"recording_url,omitempty"`
}

// WaitCall polls the Backend's calls API until the call's record has
// ended and, when withRecording, its recording is stored; it returns the
// last record read when ctx ends first, with the reason.
func (b *Backend) WaitCall(ctx context.Context, callID string, withRecording bool) (Call, error) {
	var c Call
	for {
		err := b.do(ctx, http.MethodGet, "/api/v1/calls/"+url.PathEscape(callID), nil, &c)
		var ae *apiError
		switch {
		case err == nil && runtimeapi.Terminal(c.Status) && (!withRecording || c.RecordingKey != ""):
			return c, nil
		case err != nil && !(errors.As(err, &ae) && ae.Status == http.StatusNotFound) && ctx.Err() == nil:
			return c, err
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("status %q, recording %q", c.Status, c.RecordingKey)
			}
			return c, fmt.Errorf("call %s did not end in the Backend: %w", callID, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Get reads path of the API site with the user's token into out.
func (b *Backend) Get(ctx context.Context, path string, out any) error {
	return b.do(ctx, http.MethodGet, path, nil, out)
}

// do sends a JSON request and decodes a 2xx answer into out.
func (b *Backend) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		j, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if b.token != "" {
		req.Header.Set("Authorization", "Bearer "+b.token)
	}
	res, err := b.hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, req.URL, err)
	}
	if res.StatusCode/100 != 2 {
		if len(raw) > 300 {
			raw = raw[:300]
		}
		return &apiError{Method: method, URL: req.URL.String(), Status: res.StatusCode, Body: string(bytes.TrimSpace(raw))}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, req.URL, err)
	}
	return nil
}
