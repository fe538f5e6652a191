package openaispeech

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/voxplatform/vox/voice/audio"
	"github.com/voxplatform/vox/voice/internal/httpretry"
)

// server answers like the speech endpoint: the behaviour of each request in
// turn, the last repeating.
func server(t *testing.T, behaviours ...string) *httptest.Server {
	t.Helper()
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model, Input, Voice string
			Format              string `json:"response_format"`
		}
		if r.URL.Path != "/v1/audio/speech" || r.Header.Get("Authorization") != "Bearer k" || json.NewDecoder(r.Body).Decode(&req) != nil || req.Format != "pcm" || req.Input == "" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":{"message":"bad request","type":"invalid_request_error"}}`))
			return
		}
		b := behaviours[min(n, len(behaviours)-1)]
		n++
		switch b {
		case "429":
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`))
			return
		case "401":
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}`))
			return
		}
		w.Header().Set("Content-Type", "audio/pcm")
		pcm := make([]int16, Rate/10) // 100 ms a chunk
		for i := range pcm {
			pcm[i] = int16(i % 100 * 50)
		}
		chunk := make([]byte, len(pcm)*2+1) // odd sizes: samples split across chunks
		audio.PutPCM(chunk, pcm)
		for i := range 5 {
			if b == "stall" && i == 2 {
				<-r.Context().Done()
				return
			}
			if b == "drop" && i == 2 {
				c, _, _ := w.(http.Hijacker).Hijack()
				_ = c.Close()
				return
			}
			_, _ = w.Write(chunk)
			w.(http.Flusher).Flush()
			time.Sleep(5 * time.Millisecond)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestSpeak(t *testing.T) {
	tests := []struct {
		name     string
		do       []string
		samples  int
		wantErr  bool
		temporay bool
	}{
		{"streams", []string{"ok"}, (5 * (Rate/10*2 + 1)) / 2, false, false},
		{"429 retried", []string{"429", "ok"}, (5 * (Rate/10*2 + 1)) / 2, false, false},
		{"429 always", []string{"429"}, 0, true, true},
		{"401", []string{"401"}, 0, true, false},
		{"dropped mid-stream", []string{"drop"}, (2 * (Rate/10*2 + 1)) / 2, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := server(t, tt.do...)
			s, err := New(Config{BaseURL: srv.URL + "/v1", APIKey: "k", MaxRetryWait: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			got := 0
			err = s.Speak(context.Background(), "Hello there.", "", func(p []int16) error { got += len(p); return nil })
			if (err != nil) != tt.wantErr || got != tt.samples {
				t.Fatalf("err %v, %d samples; want error %v, %d samples", err, got, tt.wantErr, tt.samples)
			}
			var se *httpretry.StatusError
			if tt.temporay && (!errors.As(err, &se) || !se.Temporary() || se.Message != "Rate limit reached") {
				t.Fatalf("error %v; want the rate limit", err)
			}
		})
	}
	t.Run("stall ends with the context", func(t *testing.T) {
		srv := server(t, "stall")
		s, _ := New(Config{BaseURL: srv.URL + "/v1", APIKey: "k"})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if err := s.Speak(ctx, "Hello.", "", func([]int16) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("stall: %v", err)
		}
	})
}
