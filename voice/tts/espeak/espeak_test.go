package espeak

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/voxplatform/vox/internal/testenv"
	"github.com/voxplatform/vox/voice/vad"
)

func TestSpeak(t *testing.T) {
	testenv.Require(t, "espeak-ng", "apt-get install espeak-ng")
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var pcm []int16
	chunks := 0
	if err := s.Speak(ctx, "Hello, thank you for calling.", "en-US", func(p []int16) error {
		chunks++
		pcm = append(pcm, p...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	d := time.Duration(len(pcm)) * time.Second / Rate
	if d < time.Second || d > 4*time.Second || vad.RMS(pcm) < 500 || chunks < 10 {
		t.Fatalf("%v of audio at RMS %.0f in %d chunks", d, vad.RMS(pcm), chunks)
	}

	// A voice that looks like an option is not passed on as one: it is an
	// unknown voice, an error.
	if err := s.Speak(ctx, "hi", "--help", func([]int16) error { return nil }); err == nil {
		t.Fatal("voice --help spoke")
	}
	// The consumer stopping stops synthesis.
	stop := errors.New("stop")
	if err := s.Speak(ctx, "one two three four five six seven", "", func([]int16) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("stopped: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Speak(cctx, "never", "", func([]int16) error { return nil }); err == nil {
		t.Fatal("cancelled context spoke")
	}
	if _, err := New(Config{Binary: "no-such-espeak"}); err == nil {
		t.Fatal("missing binary accepted")
	}
}
