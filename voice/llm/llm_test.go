package llm

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/voxplatform/vox/voice/brain"
	"github.com/voxplatform/vox/voice/llm/llmtest"
)

type got struct {
	text  string
	tools []brain.ToolCall
}

func reply(t *testing.T, srv *llmtest.Server, ctx context.Context, in brain.Input, cfg Config) (got, error) {
	t.Helper()
	cfg.BaseURL, cfg.Model = srv.BaseURL(), "test-model"
	if cfg.MaxRetryWait == 0 {
		cfg.MaxRetryWait = 50 * time.Millisecond
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var g got
	err = c.Brain().Reply(ctx, in, func(e brain.Event) error {
		if e.Tool != nil {
			g.tools = append(g.tools, *e.Tool)
		}
		g.text += e.Text
		return nil
	})
	return g, err
}

func TestReply(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		replies   []llmtest.Reply
		wantText  string
		wantTools []brain.ToolCall
		wantErr   any // pointer to an error type, for errors.As
		requests  int
	}{
		{"streamed text", []llmtest.Reply{{Tokens: llmtest.Words("Sure, I can help with that.")}},
			"Sure, I can help with that.", nil, nil, 1},
		{"tool call then goodbye", []llmtest.Reply{{Tokens: llmtest.Words("Goodbye."), Tools: [][2]string{{"end_call", `{"reason":"caller done"}`}}}},
			"Goodbye.", []brain.ToolCall{{Name: "end_call", Args: map[string]string{"reason": "caller done"}}}, nil, 1},
		{"record_field alone asks the model to go on", []llmtest.Reply{
			{Tools: [][2]string{{"record_field", `{"name":"name","value":"Ann Lee"}`}}},
			{Tokens: llmtest.Words("Thanks Ann.")}},
			"Thanks Ann.", []brain.ToolCall{{Name: "record_field", Args: map[string]string{"name": "name", "value": "Ann Lee"}}}, nil, 2},
		{"429 then success is retried", []llmtest.Reply{{Status: 429, RetryAfter: "0"}, {Tokens: llmtest.Words("Hello there.")}},
			"Hello there.", nil, nil, 2},
		{"500 twice then success", []llmtest.Reply{{Status: 500}, {Status: 503}, {Tokens: llmtest.Words("Hi.")}},
			"Hi.", nil, nil, 3},
		{"429 every time gives up", []llmtest.Reply{{Status: 429, RetryAfter: "1"}},
			"", nil, new(*StatusError), 3},
		{"401 is not retried", []llmtest.Reply{{Status: 401}},
			"", nil, new(*StatusError), 1},
		{"error mid-stream", []llmtest.Reply{{Tokens: llmtest.Words("I will check that for"), ErrorAfter: 3}},
			"I will check", nil, new(*StreamError), 1},
		{"connection dropped mid-stream", []llmtest.Reply{{Tokens: llmtest.Words("I will check that for"), DropAfter: 2}},
			"I will", nil, new(*StreamError), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.New(tt.replies...)
			defer srv.Close()
			g, err := reply(t, srv, ctx, brain.Input{Said: "hello", History: []brain.Message{{Role: brain.RoleAgent, Text: "Hi, how can I help?", Interrupted: true}}}, Config{APIKey: "sk-test"})
			if tt.wantErr != nil {
				if err == nil || !errors.As(err, tt.wantErr) {
					t.Fatalf("error %v; want %T", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if g.text != tt.wantText || !reflect.DeepEqual(g.tools, tt.wantTools) {
				t.Fatalf("got %q %v; want %q %v", g.text, g.tools, tt.wantText, tt.wantTools)
			}
			reqs := srv.Requests()
			if len(reqs) != tt.requests {
				t.Fatalf("%d requests; want %d", len(reqs), tt.requests)
			}
			r := reqs[0]
			if r.Auth != "Bearer sk-test" || !r.Body.Stream || len(r.Body.Tools) != 3 || r.Body.Model != "test-model" {
				t.Fatalf("request: %+v", r)
			}
			msgs := r.Body.Messages
			if len(msgs) != 3 || msgs[0].Role != "system" || !strings.Contains(msgs[1].Content, "interrupted") || msgs[2].Content != "hello" {
				t.Fatalf("messages: %+v", msgs)
			}
		})
	}
}

// A stalled stream ends when the caller's context does: the client never
// hangs on its own.
func TestStallFollowsContext(t *testing.T) {
	srv := llmtest.New(llmtest.Reply{Tokens: llmtest.Words("One two three four"), StallAfter: 2})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	g, err := reply(t, srv, ctx, brain.Input{Said: "hi"}, Config{})
	if !errors.Is(err, context.DeadlineExceeded) || g.text != "One two" {
		t.Fatalf("stall: %q, %v", g.text, err)
	}
}

func TestConfig(t *testing.T) {
	for _, c := range []Config{{}, {BaseURL: "http://x"}, {BaseURL: "ftp://x", Model: "m"}} {
		if _, err := New(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
