// Package llmtest is a local OpenAI-compatible chat completions server for
// tests: it speaks the real wire protocol (server-sent events of
// chat.completion.chunk objects, tool-call deltas, data: [DONE], JSON error
// bodies with Retry-After on 429) and can be slow, stall, fail mid-stream
// or drop the connection.
//
// llmtest imports nothing of this module; only tests and benchmarks use it.
package llmtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Reply is how the server answers one request.
type Reply struct {
	// Status other than 0 and 200 refuses the request with an error body.
	Status     int
	RetryAfter string
	// Tokens are the text deltas, in order.
	Tokens []string
	// Tools are tool calls sent after the tokens: name and JSON arguments,
	// each argument string cut in two deltas as real servers do.
	Tools [][2]string
	// Gap is the wait before each chunk (a slow model).
	Gap time.Duration
	// FirstDelay is the wait before the first chunk.
	FirstDelay time.Duration
	// StallAfter > 0: after that many tokens, send nothing more and hold
	// the connection until the client gives up.
	StallAfter int
	// ErrorAfter > 0: after that many tokens, send an error event.
	ErrorAfter int
	// DropAfter > 0: after that many tokens, close the connection.
	DropAfter int
}

// Request is what the server received.
type Request struct {
	Auth string
	Body struct {
		Model    string `json:"model"`
		Stream   bool   `json:"stream"`
		Messages []struct {
			Role       string `json:"role"`
			Content    string `json:"content"`
			ToolCallID string `json:"tool_call_id"`
		} `json:"messages"`
		Tools []struct {
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		} `json:"tools"`
	}
}

// Server is the test server. Each request takes the next Reply; the last
// one repeats.
type Server struct {
	*httptest.Server
	mu       sync.Mutex // guards replies and requests
	replies  []Reply
	requests []Request
}

// New starts a server; URL + "/v1" is its base URL.
func New(replies ...Reply) *Server {
	s := &Server{replies: replies}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	return s
}

// BaseURL is the API root.
func (s *Server) BaseURL() string { return s.URL + "/v1" }

// Requests returns what was received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// SetReplies replaces the replies still to come.
func (s *Server) SetReplies(r ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies = r
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		http.Error(w, `{"error":{"message":"not found","type":"invalid_request_error"}}`, http.StatusNotFound)
		return
	}
	var req Request
	req.Auth = r.Header.Get("Authorization")
	if err := json.NewDecoder(r.Body).Decode(&req.Body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":{"message":%q,"type":"invalid_request_error"}}`, err.Error())
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	rep := Reply{Tokens: []string{"Hello."}}
	if len(s.replies) > 0 {
		rep = s.replies[0]
		if len(s.replies) > 1 {
			s.replies = s.replies[1:]
		}
	}
	s.mu.Unlock()

	if rep.Status != 0 && rep.Status != http.StatusOK {
		w.Header().Set("Content-Type", "application/json")
		if rep.RetryAfter != "" {
			w.Header().Set("Retry-After", rep.RetryAfter)
		}
		w.WriteHeader(rep.Status)
		typ := "server_error"
		if rep.Status == http.StatusTooManyRequests {
			typ = "rate_limit_exceeded"
		}
		fmt.Fprintf(w, `{"error":{"message":"refused with %d","type":%q,"code":null}}`, rep.Status, typ)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	fl := w.(http.Flusher)
	send := func(v any) bool {
		b, _ := json.Marshal(v)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		fl.Flush()
		return true
	}
	wait := func(d time.Duration) bool {
		select {
		case <-time.After(d):
			return true
		case <-r.Context().Done():
			return false
		}
	}
	id := "chatcmpl-test"
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{"id": id, "object": "chat.completion.chunk", "created": time.Now().Unix(), "model": req.Body.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
	}
	fmt.Fprint(w, ": keep-alive\n\n")
	if !wait(rep.FirstDelay) || !send(chunk(map[string]any{"role": "assistant", "content": ""}, nil)) {
		return
	}
	for i, tok := range rep.Tokens {
		switch {
		case rep.StallAfter > 0 && i == rep.StallAfter:
			<-r.Context().Done()
			return
		case rep.ErrorAfter > 0 && i == rep.ErrorAfter:
			send(map[string]any{"error": map[string]any{"message": "The server had an error while processing your request.", "type": "server_error"}})
			return
		case rep.DropAfter > 0 && i == rep.DropAfter:
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					_ = c.Close()
				}
			}
			return
		}
		if !wait(rep.Gap) || !send(chunk(map[string]any{"content": tok}, nil)) {
			return
		}
	}
	for i, t := range rep.Tools {
		half := len(t[1]) / 2
		send(chunk(map[string]any{"tool_calls": []any{map[string]any{"index": i, "id": fmt.Sprintf("call_%d", i), "type": "function",
			"function": map[string]any{"name": t[0], "arguments": t[1][:half]}}}}, nil))
		send(chunk(map[string]any{"tool_calls": []any{map[string]any{"index": i, "function": map[string]any{"arguments": t[1][half:]}}}}, nil))
	}
	finish := "stop"
	if len(rep.Tools) > 0 {
		finish = "tool_calls"
	}
	send(chunk(map[string]any{}, finish))
	fmt.Fprint(w, "data: [DONE]\n\n")
	fl.Flush()
}

// Words splits a sentence into the token-like pieces a model streams.
func Words(s string) []string {
	var out []string
	for i, w := range strings.Fields(s) {
		if i > 0 {
			w = " " + w
		}
		out = append(out, w)
	}
	return out
}
