// Package openaispeech is a text-to-speech provider speaking the
// OpenAI-compatible speech endpoint (POST {base}/audio/speech) with
// response_format pcm: raw 24 kHz 16-bit little-endian mono, read as it
// streams. A refusal (429, 5xx) is retried before any audio; the pipeline
// falls back to another synthesiser when it still fails.
//
// openaispeech imports nothing of this module outside voice/.
package openaispeech

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/voxplatform/vox/voice/audio"
	"github.com/voxplatform/vox/voice/internal/httpretry"
)

// Rate is the sample rate of the pcm format.
const Rate = 24000

// Config configures a Synthesizer; zero fields take defaults.
type Config struct {
	BaseURL string // e.g. https://api.openai.com/v1 (required)
	APIKey  string
	Model   string // [tts-1]
	Voice   string // used when Speak gets none [alloy]
	Retries int    // [2]
	// MaxRetryWait [2 s].
	MaxRetryWait time.Duration
	HTTPClient   *http.Client
}

// Synthesizer is the provider.
type Synthesizer struct {
	cfg Config
	url string
}

// New checks cfg.
func New(cfg Config) (*Synthesizer, error) {
	if !strings.HasPrefix(cfg.BaseURL, "http://") && !strings.HasPrefix(cfg.BaseURL, "https://") {
		return nil, fmt.Errorf("openaispeech: base URL %q is not http(s)", cfg.BaseURL)
	}
	if cfg.Model == "" {
		cfg.Model = "tts-1"
	}
	if cfg.Voice == "" {
		cfg.Voice = "alloy"
	}
	if cfg.Retries == 0 {
		cfg.Retries = 2
	}
	if cfg.MaxRetryWait <= 0 {
		cfg.MaxRetryWait = 2 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 15 * time.Second}}
	}
	return &Synthesizer{cfg: cfg, url: strings.TrimRight(cfg.BaseURL, "/") + "/audio/speech"}, nil
}

// SampleRate implements tts.Synthesizer.
func (s *Synthesizer) SampleRate() int { return Rate }

// Speak implements tts.Synthesizer.
func (s *Synthesizer) Speak(ctx context.Context, text, voice string, emit func(pcm []int16) error) error {
	if voice == "" {
		voice = s.cfg.Voice
	}
	h := http.Header{}
	if s.cfg.APIKey != "" {
		h.Set("Authorization", "Bearer "+s.cfg.APIKey)
	}
	resp, err := httpretry.Do(ctx, s.cfg.HTTPClient, httpretry.Policy{Retries: s.cfg.Retries, MaxWait: s.cfg.MaxRetryWait},
		httpretry.JSON(s.url, map[string]any{"model": s.cfg.Model, "input": text, "voice": voice, "response_format": "pcm"}, h))
	if err != nil {
		return fmt.Errorf("openaispeech: %w", err)
	}
	defer resp.Body.Close()
	buf := make([]byte, Rate/50*2) // 20 ms
	odd := []byte{}
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			b := append(odd, buf[:n]...)
			even := len(b) &^ 1
			if even > 0 {
				if err := emit(audio.PCM(b[:even])); err != nil {
					return err
				}
			}
			odd = append([]byte(nil), b[even:]...)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("openaispeech: audio stream: %w", err)
		}
	}
}
