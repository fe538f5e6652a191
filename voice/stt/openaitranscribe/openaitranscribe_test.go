package openaitranscribe

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/voxplatform/vox/voice/audio"
	"github.com/voxplatform/vox/voice/stt"
)

// server answers like the transcription endpoint: it checks the multipart
// form and the WAV in it, and answers each request with the next
// behaviour (the last repeats).
func server(t *testing.T, behaviours ...string) (*httptest.Server, *int) {
	t.Helper()
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := behaviours[min(n, len(behaviours)-1)]
		n++
		if err := r.ParseMultipartForm(10 << 20); err != nil || r.URL.Path != "/v1/audio/transcriptions" {
			http.Error(w, `{"error":{"message":"bad form"}}`, http.StatusBadRequest)
			return
		}
		f, _, err := r.FormFile("file")
		if err != nil {
			http.Error(w, `{"error":{"message":"no file"}}`, http.StatusBadRequest)
			return
		}
		raw, _ := io.ReadAll(f)
		pcm, rate, err := audio.ReadWAV(bytes.NewReader(raw))
		if err != nil || rate != Rate || len(pcm) == 0 || r.FormValue("model") != "whisper-1" || r.FormValue("language") != "en" {
			http.Error(w, `{"error":{"message":"bad audio"}}`, http.StatusBadRequest)
			return
		}
		switch b {
		case "429":
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"error":{"message":"Rate limit reached","code":"rate_limit_exceeded"}}`))
		case "500":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"error":{"message":"The server had an error"}}`))
		case "slow":
			select {
			case <-time.After(time.Minute):
			case <-r.Context().Done():
			}
		default:
			_, _ = w.Write([]byte(`{"text":" I would like to book an appointment. "}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestFlush(t *testing.T) {
	turn := make([]int16, Rate) // one second
	tests := []struct {
		name     string
		do       []string
		want     string
		wantErr  bool
		requests int
	}{
		{"turn transcribed", []string{"ok"}, "I would like to book an appointment.", false, 1},
		{"429 retried", []string{"429", "ok"}, "I would like to book an appointment.", false, 2},
		{"500 three times fails", []string{"500"}, "", true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, n := server(t, tt.do...)
			r, err := New(Config{BaseURL: srv.URL + "/v1", MaxRetryWait: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			s, _ := r.Open(context.Background(), stt.Options{Language: "en-US"})
			defer s.Close()
			_ = s.Write(turn)
			got, err := s.Flush(context.Background())
			if got != tt.want || (err != nil) != tt.wantErr || *n != tt.requests {
				t.Fatalf("%q, %v after %d requests", got, err, *n)
			}
		})
	}
	t.Run("slow provider ends with the context", func(t *testing.T) {
		srv, _ := server(t, "slow")
		r, _ := New(Config{BaseURL: srv.URL + "/v1"})
		s, _ := r.Open(context.Background(), stt.Options{Language: "en-US"})
		_ = s.Write(turn)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if _, err := s.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("slow: %v", err)
		}
	})
	t.Run("empty turn asks nothing", func(t *testing.T) {
		srv, n := server(t, "ok")
		r, _ := New(Config{BaseURL: srv.URL + "/v1"})
		s, _ := r.Open(context.Background(), stt.Options{})
		if got, err := s.Flush(context.Background()); got != "" || err != nil || *n != 0 {
			t.Fatalf("%q %v %d", got, err, *n)
		}
	})
}
