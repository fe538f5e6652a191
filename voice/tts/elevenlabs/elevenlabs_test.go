package elevenlabs

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/voxplatform/vox/voice/audio"
)

// fake speaks the stream-input protocol: it checks the key, the path and
// the output format, reads the opening " ", the text and the closing "",
// then sends base64 PCM chunks and isFinal.
func fake(t *testing.T, mode string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1/text-to-speech/voice1/stream-input") || r.URL.Query().Get("output_format") != "pcm_16000" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		if r.Header.Get("xi-api-key") != "k" {
			_ = ws.WriteJSON(map[string]any{"message": "Invalid API key", "error": "invalid_api_key", "code": 1008})
			_ = ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "Invalid API key"))
			return
		}
		var texts []string
		for {
			var m struct{ Text *string }
			if err := ws.ReadJSON(&m); err != nil || m.Text == nil {
				return
			}
			if *m.Text == "" {
				break
			}
			texts = append(texts, *m.Text)
		}
		if len(texts) != 2 || texts[0] != " " {
			_ = ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "bad input"))
			return
		}
		if mode == "stall" {
			_, _, _ = ws.ReadMessage()
			return
		}
		chunk := make([]byte, 3200) // 100 ms
		audio.PutPCM(chunk, make([]int16, 1600))
		for i := range 3 {
			if mode == "midstream" && i == 1 {
				_ = ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseInternalServerErr, "internal error"))
				return
			}
			_ = ws.WriteJSON(map[string]any{"audio": base64.StdEncoding.EncodeToString(chunk), "isFinal": nil})
		}
		_ = ws.WriteJSON(map[string]any{"isFinal": true})
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1"
}

func TestSpeak(t *testing.T) {
	tests := []struct {
		mode, key string
		samples   int
		code      int // ProviderError code wanted, 0 for success
	}{
		{"ok", "k", 4800, 0},
		{"ok", "wrong", 0, 1008},
		{"midstream", "k", 1600, 1011},
	}
	for _, tt := range tests {
		t.Run(tt.mode+" "+tt.key, func(t *testing.T) {
			s, err := New(Config{URL: fake(t, tt.mode), APIKey: tt.key, Voice: "voice1"})
			if err != nil {
				t.Fatal(err)
			}
			got := 0
			err = s.Speak(context.Background(), "Hello there.", "", func(p []int16) error { got += len(p); return nil })
			var pe *ProviderError
			if tt.code == 0 && err != nil || tt.code != 0 && (!errors.As(err, &pe) || pe.Code != tt.code) || got != tt.samples {
				t.Fatalf("%v, %d samples", err, got)
			}
		})
	}
	t.Run("stall ends with the context", func(t *testing.T) {
		s, _ := New(Config{URL: fake(t, "stall"), APIKey: "k", Voice: "voice1"})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if err := s.Speak(ctx, "Hello.", "", func([]int16) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("stall: %v", err)
		}
	})
}
