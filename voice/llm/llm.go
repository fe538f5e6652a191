// Package llm is the language-model brain: one client for the
// OpenAI-compatible chat completions API, streamed (server-sent events) with
// tool calls, that works with hosted services and with local servers (vLLM,
// Ollama, llama.cpp's server) by base URL. Tool calls the model makes are
// answered "ok" and the model is asked to go on, so a reply that starts
// with record_field still says something.
//
// A rate-limited (429) or failing (5xx) request is retried, honouring
// Retry-After within a bound, as long as nothing has been said yet. A stall
// is the pipeline's to catch: every call follows its context.
//
// llm imports nothing of this module outside voice/.
package llm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/voxplatform/vox/voice/brain"
)

// Config configures a Client; zero fields take defaults.
type Config struct {
	// BaseURL is the API root, e.g. https://api.openai.com/v1 or
	// http://127.0.0.1:11434/v1 (required).
	BaseURL string
	// APIKey is sent as a bearer token when set (from the environment,
	// never from the Backend).
	APIKey string
	// Model names the model (required).
	Model string
	// Prompt is the system prompt: the agent's instructions.
	Prompt string
	// Greeting is said verbatim when the call is answered; "" lets the
	// model open.
	Greeting string
	// MaxTokens bounds a reply [300].
	MaxTokens int
	// Retries of a request refused with 429 or 5xx before any word [2].
	Retries int
	// MaxRetryWait caps the wait before a retry, Retry-After included [2 s].
	MaxRetryWait time.Duration
	// HTTPClient [a client with no overall timeout: streams are bounded by
	// their context].
	HTTPClient *http.Client
}

// Client talks to one chat completions endpoint.
type Client struct {
	cfg Config
	url string
}

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" || cfg.Model == "" {
		return nil, errors.New("llm: base URL and model are required")
	}
	if !strings.HasPrefix(cfg.BaseURL, "http://") && !strings.HasPrefix(cfg.BaseURL, "https://") {
		return nil, fmt.Errorf("llm: base URL %q is not http(s)", cfg.BaseURL)
	}
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = 300
	}
	if cfg.Retries == 0 {
		cfg.Retries = 2
	}
	if cfg.MaxRetryWait <= 0 {
		cfg.MaxRetryWait = 2 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Transport: &http.Transport{
			ResponseHeaderTimeout: 30 * time.Second, IdleConnTimeout: 90 * time.Second, MaxIdleConnsPerHost: 4,
		}}
	}
	return &Client{cfg: cfg, url: strings.TrimRight(cfg.BaseURL, "/") + "/chat/completions"}, nil
}

// Brain returns a brain for one call.
func (c *Client) Brain() brain.Brain { return &callBrain{c: c} }

type callBrain struct{ c *Client }

// Opening implements brain.Brain.
func (b *callBrain) Opening(ctx context.Context, emit func(brain.Event) error) error {
	if b.c.cfg.Greeting != "" {
		return emit(brain.Event{Text: b.c.cfg.Greeting + " "})
	}
	return b.c.complete(ctx, []message{b.c.system(), {Role: "user", Content: "(The call has just been answered. Greet the caller.)"}}, emit)
}

// Reply implements brain.Brain.
func (b *callBrain) Reply(ctx context.Context, in brain.Input, emit func(brain.Event) error) error {
	msgs := []message{b.c.system()}
	for _, m := range in.History {
		text := m.Text
		if m.Interrupted {
			text += " (interrupted by the caller)"
		}
		msgs = append(msgs, message{Role: m.Role, Content: text})
	}
	switch {
	case in.DTMF != "":
		msgs = append(msgs, message{Role: "user", Content: "(The caller pressed " + in.DTMF + ".)"})
	case strings.TrimSpace(in.Said) == "":
		msgs = append(msgs, message{Role: "user", Content: "(The caller said something that could not be made out.)"})
	default:
		msgs = append(msgs, message{Role: "user", Content: in.Said})
	}
	return b.c.complete(ctx, msgs, emit)
}

func (c *Client) system() message {
	p := c.cfg.Prompt
	if p == "" {
		p = "You are a helpful voice agent on a phone call."
	}
	return message{Role: "system", Content: p + "\nYou speak on the phone: answer in short spoken sentences, without lists or markup."}
}

// Wire types of the chat completions API.
type message struct {
	Role       string     `json:"role"`
	Content    string     `json:"content"`
	ToolCalls  []toolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

type toolCall struct {
	Index    int    `json:"index"`
	ID       string `json:"id,omitempty"`
	Type     string `json:"type,omitempty"`
	Function struct {
		Name      string `json:"name,omitempty"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type request struct {
	Model     string           `json:"model"`
	Messages  []message        `json:"messages"`
	Stream    bool             `json:"stream"`
	MaxTokens int              `json:"max_tokens,omitempty"`
	Tools     []map[string]any `json:"tools,omitempty"`
}

type chunk struct {
	Choices []struct {
		Delta struct {
			Content   string     `json:"content"`
			ToolCalls []toolCall `json:"tool_calls"`
		} `json:"delta"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Error *apiError `json:"error"`
}

type apiError struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Code    any    `json:"code"`
}

// StatusError is a refused request.
type StatusError struct {
	Status  int
	Message string
	// RetryAfter is the server's Retry-After, if it sent one.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("llm: HTTP %d: %s", e.Status, e.Message)
}

// StreamError is an error the server sent in the middle of a stream.
type StreamError struct{ Message string }

func (e *StreamError) Error() string { return "llm: error mid-stream: " + e.Message }

// complete runs a conversation to its spoken end: up to three rounds when
// the model calls tools without ending the call.
func (c *Client) complete(ctx context.Context, msgs []message, emit func(brain.Event) error) error {
	said := false
	wrapped := func(e brain.Event) error {
		if e.Text != "" {
			said = true
		}
		return emit(e)
	}
	for round := 0; round < 3; round++ {
		calls, text, err := c.stream(ctx, msgs, wrapped, said)
		if err != nil {
			return err
		}
		if len(calls) == 0 || said {
			return nil
		}
		final := false
		for _, tc := range calls {
			if tc.Function.Name == brain.ToolEndCall || tc.Function.Name == brain.ToolTransfer {
				final = true
			}
		}
		if final {
			return nil
		}
		msgs = append(msgs, message{Role: "assistant", Content: text, ToolCalls: calls})
		for _, tc := range calls {
			msgs = append(msgs, message{Role: "tool", ToolCallID: tc.ID, Content: "ok"})
		}
	}
	return nil
}

// stream makes one request, retrying refusals before anything is said, and
// emits its text and tool calls.
func (c *Client) stream(ctx context.Context, msgs []message, emit func(brain.Event) error, said bool) ([]toolCall, string, error) {
	body, err := json.Marshal(request{Model: c.cfg.Model, Messages: msgs, Stream: true, MaxTokens: c.cfg.MaxTokens, Tools: brain.ToolSpecs})
	if err != nil {
		return nil, "", fmt.Errorf("llm: %w", err)
	}
	for attempt := 0; ; attempt++ {
		resp, err := c.post(ctx, body)
		if err == nil {
			calls, text, err := c.read(resp, emit)
			_ = resp.Body.Close()
			return calls, text, err
		}
		var se *StatusError
		retriable := errors.As(err, &se) && (se.Status == http.StatusTooManyRequests || se.Status >= 500)
		if !retriable || said || attempt >= c.cfg.Retries || ctx.Err() != nil {
			return nil, "", err
		}
		wait := min(max(se.RetryAfter, time.Duration(attempt+1)*200*time.Millisecond), c.cfg.MaxRetryWait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, "", ctx.Err()
		}
	}
}

func (c *Client) post(ctx context.Context, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("llm: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	if c.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("llm: %w", err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	se := &StatusError{Status: resp.StatusCode, Message: strings.TrimSpace(string(raw))}
	var e struct {
		Error apiError `json:"error"`
	}
	if json.Unmarshal(raw, &e) == nil && e.Error.Message != "" {
		se.Message = e.Error.Message
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		se.RetryAfter = time.Duration(s) * time.Second
	}
	return nil, se
}

// read parses the event stream: text is emitted as it comes, tool calls
// when the stream ends.
func (c *Client) read(resp *http.Response, emit func(brain.Event) error) ([]toolCall, string, error) {
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	var calls []toolCall
	var text strings.Builder
	done := false // a finish_reason or [DONE] came
	for !done && sc.Scan() {
		line := sc.Text()
		data, ok := strings.CutPrefix(line, "data:")
		if !ok {
			continue // comments (": keep-alive"), event names, blank separators
		}
		data = strings.TrimSpace(data)
		if data == "[DONE]" {
			done = true
			break
		}
		var ch chunk
		if err := json.Unmarshal([]byte(data), &ch); err != nil {
			return nil, text.String(), fmt.Errorf("llm: bad stream chunk %.100q: %w", data, err)
		}
		if ch.Error != nil {
			return nil, text.String(), &StreamError{Message: ch.Error.Message}
		}
		for _, choice := range ch.Choices {
			if t := choice.Delta.Content; t != "" {
				text.WriteString(t)
				if err := emit(brain.Event{Text: t}); err != nil {
					return nil, text.String(), err
				}
			}
			for _, d := range choice.Delta.ToolCalls {
				for len(calls) <= d.Index {
					calls = append(calls, toolCall{Index: len(calls), Type: "function"})
				}
				tc := &calls[d.Index]
				if d.ID != "" {
					tc.ID = d.ID
				}
				if d.Function.Name != "" {
					tc.Function.Name = d.Function.Name
				}
				tc.Function.Arguments += d.Function.Arguments
			}
			if choice.FinishReason != "" {
				done = true
			}
		}
	}
	if err := resp.Request.Context().Err(); err != nil {
		return nil, text.String(), err
	}
	if err := sc.Err(); err != nil {
		return nil, text.String(), &StreamError{Message: err.Error()}
	}
	if !done {
		return nil, text.String(), &StreamError{Message: "the stream ended before its end"}
	}
	for _, tc := range calls {
		args := map[string]string{}
		var raw map[string]any
		if tc.Function.Arguments != "" {
			if err := json.Unmarshal([]byte(tc.Function.Arguments), &raw); err != nil {
				return nil, text.String(), fmt.Errorf("llm: tool %s arguments %.100q: %w", tc.Function.Name, tc.Function.Arguments, err)
			}
		}
		for k, v := range raw {
			if s, ok := v.(string); ok {
				args[k] = s
			} else {
				b, _ := json.Marshal(v)
				args[k] = string(b)
			}
		}
		if err := emit(brain.Event{Tool: &brain.ToolCall{Name: tc.Function.Name, Args: args}}); err != nil {
			return nil, text.String(), err
		}
	}
	return calls, text.String(), nil
}
