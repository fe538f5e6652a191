// Package elevenlabs is a streaming text-to-speech provider for
// ElevenLabs' WebSocket input-streaming API
// (wss://api.elevenlabs.io/v1/text-to-speech/{voice}/stream-input,
// output_format pcm_16000): one socket per piece of text, the text sent
// after the opening " " message and ended with "", the base64 audio chunks
// emitted as they arrive until isFinal. An error message or a close code
// (1008 bad key or input timeout, 1011 server error) ends the piece with an
// error; the pipeline falls back to another synthesiser.
//
// elevenlabs imports nothing of this module outside voice/.
package elevenlabs

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/voxplatform/vox/voice/audio"
)

// Rate is the rate of pcm_16000.
const Rate = 16000

// Config configures a Synthesizer; zero fields take defaults.
type Config struct {
	URL    string // API root [wss://api.elevenlabs.io/v1]
	APIKey string
	Model  string // [eleven_flash_v2_5]
	Voice  string // voice id used when Speak gets none (required then)
	Dial   time.Duration
}

// Synthesizer is the provider.
type Synthesizer struct{ cfg Config }

// New checks cfg.
func New(cfg Config) (*Synthesizer, error) {
	if cfg.URL == "" {
		cfg.URL = "wss://api.elevenlabs.io/v1"
	}
	if !strings.HasPrefix(cfg.URL, "ws://") && !strings.HasPrefix(cfg.URL, "wss://") {
		return nil, fmt.Errorf("elevenlabs: URL %q is not ws(s)", cfg.URL)
	}
	if cfg.Model == "" {
		cfg.Model = "eleven_flash_v2_5"
	}
	if cfg.Dial <= 0 {
		cfg.Dial = 5 * time.Second
	}
	return &Synthesizer{cfg: cfg}, nil
}

// SampleRate implements tts.Synthesizer.
func (s *Synthesizer) SampleRate() int { return Rate }

// ProviderError is an error the server reported.
type ProviderError struct {
	Code    int // WebSocket close code, or 0
	Message string
}

func (e *ProviderError) Error() string {
	return fmt.Sprintf("elevenlabs: %s (code %d)", e.Message, e.Code)
}

// Speak implements tts.Synthesizer.
func (s *Synthesizer) Speak(ctx context.Context, text, voice string, emit func(pcm []int16) error) error {
	if voice == "" {
		voice = s.cfg.Voice
	}
	if voice == "" || strings.ContainsAny(voice, "/?#") {
		return fmt.Errorf("elevenlabs: voice id %q", voice)
	}
	q := url.Values{"model_id": {s.cfg.Model}, "output_format": {"pcm_16000"}}
	u := strings.TrimRight(s.cfg.URL, "/") + "/text-to-speech/" + url.PathEscape(voice) + "/stream-input?" + q.Encode()
	h := http.Header{}
	if s.cfg.APIKey != "" {
		h.Set("xi-api-key", s.cfg.APIKey)
	}
	dctx, cancel := context.WithTimeout(ctx, s.cfg.Dial)
	ws, resp, err := websocket.DefaultDialer.DialContext(dctx, u, h)
	cancel()
	if err != nil {
		if resp != nil {
			defer resp.Body.Close()
			raw, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
			return &ProviderError{Message: fmt.Sprintf("handshake HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(raw)))}
		}
		return fmt.Errorf("elevenlabs: dial: %w", err)
	}
	defer ws.Close()
	// Unblock the reader when the context ends.
	stop := context.AfterFunc(ctx, func() { _ = ws.Close() })
	defer stop()

	for _, m := range []map[string]any{
		{"text": " ", "voice_settings": map[string]any{"stability": 0.5, "similarity_boost": 0.8}},
		{"text": strings.TrimSpace(text) + " ", "flush": true},
		{"text": ""},
	} {
		if err := ws.WriteJSON(m); err != nil {
			// The server may have said why before closing: read it.
			_ = ws.SetReadDeadline(time.Now().Add(time.Second))
			werr := fmt.Errorf("elevenlabs: send: %w", err)
			if rerr := s.read(ctx, ws, emit); rerr != nil {
				return rerr
			}
			return s.ended(ctx, werr)
		}
	}
	return s.read(ctx, ws, emit)
}

// read emits the audio until isFinal, an error message or a close.
func (s *Synthesizer) read(ctx context.Context, ws *websocket.Conn, emit func(pcm []int16) error) error {
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				if ce.Code == websocket.CloseNormalClosure {
					return nil
				}
				return s.ended(ctx, &ProviderError{Code: ce.Code, Message: ce.Text})
			}
			return s.ended(ctx, fmt.Errorf("elevenlabs: read: %w", err))
		}
		var m struct {
			Audio   string `json:"audio"`
			IsFinal *bool  `json:"isFinal"`
			Message string `json:"message"`
			Error   string `json:"error"`
			Code    int    `json:"code"`
		}
		if err := json.Unmarshal(msg, &m); err != nil {
			return fmt.Errorf("elevenlabs: bad message: %w", err)
		}
		if m.Error != "" || m.Message != "" && m.Audio == "" {
			return &ProviderError{Code: m.Code, Message: strings.TrimSpace(m.Error + ": " + m.Message)}
		}
		if m.Audio != "" {
			b, err := base64.StdEncoding.DecodeString(m.Audio)
			if err != nil {
				return fmt.Errorf("elevenlabs: audio: %w", err)
			}
			if err := emit(audio.PCM(b)); err != nil {
				return err
			}
		}
		if m.IsFinal != nil && *m.IsFinal {
			return nil
		}
	}
}

func (s *Synthesizer) ended(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
