package pocketsphinx

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/voxplatform/vox/internal/testenv"
	"github.com/voxplatform/vox/voice/audio"
	"github.com/voxplatform/vox/voice/stt"
)

// speech says text with espeak-ng and returns it as telephone audio
// resampled to 16 kHz, as the pipeline hands it over.
func speech(t *testing.T, text string) []int16 {
	t.Helper()
	bin := testenv.Require(t, "espeak-ng", "apt-get install espeak-ng")
	out, err := exec.Command(bin, "-v", "en-us", "-s", "150", "--stdout", text).Output()
	if err != nil {
		t.Fatal(err)
	}
	pcm, rate, err := audio.ReadWAV(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	tel := audio.Resample(pcm, rate, 8000)
	pad := make([]int16, 8000/4)
	tel = append(append(pad, tel...), pad...)
	return audio.Resample(tel, 8000, 16000)
}

func newRecognizer(t *testing.T) *Recognizer {
	t.Helper()
	r, err := New(Config{})
	if err != nil {
		testenv.Unavailable(t, err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func TestScriptVocabulary(t *testing.T) {
	r := newRecognizer(t)
	ctx := context.Background()
	var mu sync.Mutex
	var partials []string
	s, err := r.Open(ctx, sttOptions([]string{
		"I would like to book an appointment", "I want to cancel my order", "my name is John Smith",
	}, func(p string) { mu.Lock(); partials = append(partials, p); mu.Unlock() }))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct{ say, want string }{
		{"I would like to book an appointment", "book an appointment"},
		{"I want to cancel my order", "cancel my order"},
	} {
		pcm := speech(t, tc.say)
		for i := 0; i < len(pcm); i += 320 {
			if err := s.Write(pcm[i:min(i+320, len(pcm))]); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Flush(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("heard %q", got)
		if !strings.Contains(got, tc.want) {
			t.Errorf("heard %q; want it to contain %q", got, tc.want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(partials) == 0 {
		t.Error("no partial transcript")
	}
}

func TestNoModel(t *testing.T) {
	if _, err := New(Config{ModelDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "apt-get install") {
		t.Fatalf("missing model: %v", err)
	}
}

func sttOptions(phrases []string, partial func(string)) stt.Options {
	return stt.Options{Phrases: phrases, OnPartial: partial}
}
