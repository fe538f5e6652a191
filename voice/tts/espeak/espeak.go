// Package espeak is the offline text-to-speech provider: the espeak-ng
// program (Debian's espeak-ng), one process per piece of text, its WAV read
// from stdout as it is written. A process starts and speaks its first audio
// in about 10 ms, so no library binding is needed.
//
// espeak imports nothing of this module outside voice/.
package espeak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"

	"github.com/voxplatform/vox/voice/audio"
)

// Rate is the sample rate espeak-ng speaks at.
const Rate = 22050

// Config configures the Synthesizer; zero fields take defaults.
type Config struct {
	// Binary is the program [espeak-ng from PATH].
	Binary string
	// Voice is used when Speak is given none [en-us].
	Voice string
	// WordsPerMinute [160].
	WordsPerMinute int
}

// Synthesizer runs espeak-ng.
type Synthesizer struct {
	cfg Config
}

// New finds espeak-ng and returns a Synthesizer.
func New(cfg Config) (*Synthesizer, error) {
	if cfg.Binary == "" {
		cfg.Binary = "espeak-ng"
	}
	p, err := exec.LookPath(cfg.Binary)
	if err != nil {
		return nil, fmt.Errorf("espeak-ng: %w (apt-get install espeak-ng)", err)
	}
	cfg.Binary = p
	if cfg.Voice == "" {
		cfg.Voice = "en-us"
	}
	if cfg.WordsPerMinute <= 0 {
		cfg.WordsPerMinute = 160
	}
	return &Synthesizer{cfg: cfg}, nil
}

// SampleRate implements tts.Synthesizer.
func (s *Synthesizer) SampleRate() int { return Rate }

// voiceName maps a BCP 47 tag or espeak voice to an espeak voice: letters,
// digits and -+_ only, so a voice can never become an option.
func voiceName(v, def string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == "" {
		return def
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '+' || r == '_') {
			return def
		}
	}
	return strings.TrimLeft(v, "-+_")
}

// Speak implements tts.Synthesizer.
func (s *Synthesizer) Speak(ctx context.Context, text, voice string, emit func(pcm []int16) error) error {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	// The text goes on stdin, never as an argument.
	cmd := exec.CommandContext(ctx, s.cfg.Binary, "-v", voiceName(voice, s.cfg.Voice),
		"-s", strconv.Itoa(s.cfg.WordsPerMinute), "--stdout", "--stdin")
	cmd.Stdin = strings.NewReader(text)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("espeak-ng: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("espeak-ng: %w", err)
	}
	werr := stream(out, emit)
	if werr != nil {
		_ = cmd.Process.Kill()
		_, _ = io.Copy(io.Discard, out)
	}
	err = cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case werr != nil:
		return werr
	case err != nil:
		return fmt.Errorf("espeak-ng: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

func stream(r io.Reader, emit func([]int16) error) error {
	w, err := audio.NewWAVReader(r)
	if err != nil {
		return fmt.Errorf("espeak-ng output: %w", err)
	}
	if w.Rate != Rate {
		return fmt.Errorf("espeak-ng output at %d Hz; want %d", w.Rate, Rate)
	}
	buf := make([]int16, Rate/50) // 20 ms
	for {
		n, err := w.Read(buf)
		if n > 0 {
			if err := emit(append([]int16(nil), buf[:n]...)); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("espeak-ng output: %w", err)
		}
	}
}
