package deepgram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/voxplatform/vox/voice/stt"
)

// fake speaks Deepgram's live protocol: it checks the query and the token,
// sends Metadata, interim Results while audio comes, a final result for each
// Finalize (from_finalize), and closes on CloseStream. Its mode changes
// what goes wrong.
type fake struct {
	mode string // ok, 401, 429, close1011 (after the first audio), stall (never finalizes)

	mu         sync.Mutex
	conns      int
	keepAlives int
	closeSeen  int
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case f.mode == "401" || r.Header.Get("Authorization") != "Token k":
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials.","request_id":"x"}`))
		return
	case f.mode == "429":
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"err_code":"TOO_MANY_REQUESTS","err_msg":"Too many requests."}`))
		return
	case q.Get("encoding") != "linear16" || q.Get("sample_rate") != "16000" || q.Get("interim_results") != "true":
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"err_code":"Bad Request","err_msg":"bad query"}`))
		return
	}
	ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer ws.Close()
	f.mu.Lock()
	f.conns++
	conn := f.conns
	f.mu.Unlock()
	_ = ws.WriteJSON(map[string]any{"type": "Metadata", "request_id": "x", "channels": 1})
	results := func(text string, final, fromFinalize bool) error {
		return ws.WriteJSON(map[string]any{"type": "Results", "is_final": final, "speech_final": final, "from_finalize": fromFinalize,
			"channel": map[string]any{"alternatives": []any{map[string]any{"transcript": text, "confidence": 0.9}}}})
	}
	bytes, turn := 0, 0
	for {
		typ, msg, err := ws.ReadMessage()
		if err != nil {
			return
		}
		if typ == websocket.BinaryMessage {
			bytes += len(msg)
			if f.mode == "close1011" && conn == 1 {
				_ = ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1011, "NET-0001"))
				return
			}
			if bytes >= 16000 {
				bytes = 0
				_ = results("hello", false, false)
			}
			continue
		}
		var m struct{ Type string }
		_ = json.Unmarshal(msg, &m)
		switch m.Type {
		case "KeepAlive":
			f.mu.Lock()
			f.keepAlives++
			f.mu.Unlock()
		case "Finalize":
			if f.mode == "stall" {
				continue
			}
			turn++
			_ = results(fmt.Sprintf("hello world %d.", turn), true, false)
			_ = results("", true, true)
		case "CloseStream":
			f.mu.Lock()
			f.closeSeen++
			f.mu.Unlock()
			_ = ws.WriteJSON(map[string]any{"type": "Metadata", "duration": 1.0})
			_ = ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
			return
		}
	}
}

func start(t *testing.T, mode string, cfg Config) (*fake, *Recognizer) {
	t.Helper()
	f := &fake{mode: mode}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg.URL, cfg.APIKey = "ws"+strings.TrimPrefix(srv.URL, "http")+"/v1/listen", "k"
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f, r
}

func speak(t *testing.T, s stt.Stream, seconds float64) {
	t.Helper()
	pcm := make([]int16, int(seconds*Rate))
	for i := 0; i < len(pcm); i += 320 {
		if err := s.Write(pcm[i : i+320]); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTurns(t *testing.T) {
	f, r := start(t, "ok", Config{})
	var mu sync.Mutex
	var partials []string
	ctx := context.Background()
	s, err := r.Open(ctx, stt.Options{Language: "en-US", Phrases: []string{"book an appointment"},
		OnPartial: func(p string) { mu.Lock(); partials = append(partials, p); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	for turn := 1; turn <= 2; turn++ {
		speak(t, s, 1)
		got, err := s.Flush(ctx)
		if want := fmt.Sprintf("hello world %d.", turn); got != want || err != nil {
			t.Fatalf("turn %d: %q, %v; want %q", turn, got, err, want)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(partials) == 0 || f.closeSeen != 1 {
		t.Fatalf("partials %v, CloseStream seen %d", partials, f.closeSeen)
	}
}

func TestKeepAlive(t *testing.T) {
	f, r := start(t, "ok", Config{KeepAlive: 100 * time.Millisecond})
	s, err := r.Open(context.Background(), stt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.mu.Lock()
		n := f.keepAlives
		f.mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no KeepAlive sent on an idle stream")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = s.Close()
}

func TestFailures(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{"401", "429"} {
		_, r := start(t, mode, Config{})
		var he *HandshakeError
		if _, err := r.Open(ctx, stt.Options{}); !errors.As(err, &he) || !strings.Contains(he.Message, "ny") && he.Status != 401 {
			t.Fatalf("%s: %v", mode, err)
		}
	}

	// The server closes the socket (1011): the turn fails with the close
	// code, the next turn dials again and works.
	f, r := start(t, "close1011", Config{})
	s, err := r.Open(ctx, stt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Write(make([]int16, 320))
	<-s.(*stream).c.dead
	if _, err := s.Flush(ctx); err == nil || !strings.Contains(err.Error(), "1011") {
		t.Fatalf("closed socket: %v", err)
	}
	speak(t, s, 1)
	if got, err := s.Flush(ctx); got != "hello world 1." || err != nil {
		t.Fatalf("after redial: %q %v", got, err)
	}
	_ = s.Close()
	f.mu.Lock()
	if f.conns != 2 {
		t.Errorf("%d connections; want 2", f.conns)
	}
	f.mu.Unlock()

	// A server that never finalizes: Flush gives up in time.
	_, r = start(t, "stall", Config{Finalize: 200 * time.Millisecond})
	s, err = r.Open(ctx, stt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	speak(t, s, 0.5)
	if _, err := s.Flush(ctx); err == nil {
		t.Fatal("stalled finalize returned no error")
	}
	_ = s.Close()
}
