// Package openaitranscribe is a speech-to-text provider for the
// OpenAI-compatible transcription endpoint (POST {base}/audio/transcriptions,
// multipart: a WAV file, model, language), used a turn at a time: the
// stream keeps the turn's audio and sends it when the turn ends. It works
// with hosted services and local servers (whisper.cpp's server, vLLM,
// speaches) by base URL. A refusal (429, 5xx) is retried.
//
// openaitranscribe imports nothing of this module outside voice/.
package openaitranscribe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/voxplatform/vox/voice/audio"
	"github.com/voxplatform/vox/voice/internal/httpretry"
	"github.com/voxplatform/vox/voice/stt"
)

// Rate is the audio rate sent.
const Rate = 16000

// Config configures a Recognizer; zero fields take defaults.
type Config struct {
	BaseURL string // e.g. https://api.openai.com/v1 (required)
	APIKey  string
	Model   string // [whisper-1]
	Retries int    // [2]
	// MaxRetryWait [1 s].
	MaxRetryWait time.Duration
	// MaxTurn bounds the audio kept for one turn [60 s].
	MaxTurn    time.Duration
	HTTPClient *http.Client
}

// Recognizer is the provider.
type Recognizer struct {
	cfg Config
	url string
}

// New checks cfg.
func New(cfg Config) (*Recognizer, error) {
	if !strings.HasPrefix(cfg.BaseURL, "http://") && !strings.HasPrefix(cfg.BaseURL, "https://") {
		return nil, fmt.Errorf("openaitranscribe: base URL %q is not http(s)", cfg.BaseURL)
	}
	if cfg.Model == "" {
		cfg.Model = "whisper-1"
	}
	if cfg.Retries == 0 {
		cfg.Retries = 2
	}
	if cfg.MaxRetryWait <= 0 {
		cfg.MaxRetryWait = time.Second
	}
	if cfg.MaxTurn <= 0 {
		cfg.MaxTurn = time.Minute
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	return &Recognizer{cfg: cfg, url: strings.TrimRight(cfg.BaseURL, "/") + "/audio/transcriptions"}, nil
}

// SampleRate implements stt.Recognizer.
func (r *Recognizer) SampleRate() int { return Rate }

// Open implements stt.Recognizer.
func (r *Recognizer) Open(_ context.Context, opts stt.Options) (stt.Stream, error) {
	return &stream{r: r, opts: opts}, nil
}

type stream struct {
	r    *Recognizer
	opts stt.Options

	mu     sync.Mutex // guards the fields below
	turn   []int16
	closed bool
}

func (s *stream) Write(pcm []int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return stt.ErrClosed
	}
	if len(s.turn)+len(pcm) > int(s.r.cfg.MaxTurn.Seconds()*Rate) {
		return fmt.Errorf("openaitranscribe: turn longer than %v", s.r.cfg.MaxTurn)
	}
	s.turn = append(s.turn, pcm...)
	return nil
}

func (s *stream) Flush(ctx context.Context) (string, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return "", stt.ErrClosed
	}
	turn := s.turn
	s.turn = nil
	s.mu.Unlock()
	if len(turn) < Rate/10 {
		return "", nil
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", "turn.wav")
	if err == nil {
		_, err = fw.Write(audio.WAV(turn, Rate))
	}
	fields := map[string]string{"model": s.r.cfg.Model, "response_format": "json"}
	if l := s.opts.Language; l != "" {
		fields["language"] = strings.ToLower(strings.SplitN(l, "-", 2)[0]) // ISO-639-1
	}
	if len(s.opts.Phrases) > 0 {
		fields["prompt"] = strings.Join(s.opts.Phrases, " ")
	}
	for k, v := range fields {
		if err == nil {
			err = mw.WriteField(k, v)
		}
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		return "", fmt.Errorf("openaitranscribe: %w", err)
	}
	resp, err := httpretry.Do(ctx, s.r.cfg.HTTPClient, httpretry.Policy{Retries: s.r.cfg.Retries, MaxWait: s.r.cfg.MaxRetryWait},
		func(ctx context.Context) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.r.url, bytes.NewReader(body.Bytes()))
			if err != nil {
				return nil, err
			}
			req.Header.Set("Content-Type", mw.FormDataContentType())
			if s.r.cfg.APIKey != "" {
				req.Header.Set("Authorization", "Bearer "+s.r.cfg.APIKey)
			}
			return req, nil
		})
	if err != nil {
		return "", fmt.Errorf("openaitranscribe: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		Text string `json:"text"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", fmt.Errorf("openaitranscribe: answer: %w", err)
	}
	text := strings.TrimSpace(out.Text)
	if text != "" && s.opts.OnPartial != nil {
		s.opts.OnPartial(text)
	}
	return text, nil
}

func (s *stream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed, s.turn = true, nil
	return nil
}
