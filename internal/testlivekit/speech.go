package testlivekit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/voxplatform/vox/internal/testenv"
)

// Speech renders text with espeak-ng and returns it as 8 kHz mono PCM:
// real speech for the agent's voice detector to hear.
func Speech(t testing.TB, text string) []int16 {
	t.Helper()
	espeak := testenv.Require(t, "espeak-ng", "apt-get install -y espeak-ng")
	sox := testenv.Require(t, "sox", "apt-get install -y sox")
	pcm, err := RenderSpeech(espeak, sox, t.TempDir(), text)
	if err != nil {
		t.Fatal(err)
	}
	return pcm
}

// RenderSpeech is Speech with explicit tools and a scratch directory.
func RenderSpeech(espeak, sox, dir, text string) ([]int16, error) {
	raw := filepath.Join(dir, "speech.wav")
	out := filepath.Join(dir, "speech8k.wav")
	if b, err := exec.Command(espeak, "-w", raw, text).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("espeak-ng: %w: %s", err, b)
	}
	if b, err := exec.Command(sox, raw, "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", out).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("sox: %w: %s", err, b)
	}
	return ReadWAV(out)
}

// ReadWAV reads a 16-bit PCM WAV file's samples (first channel layout as
// stored; the callers use mono files).
func ReadWAV(path string) ([]int16, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%s: not a WAV file", path)
	}
	for off := 12; off+8 <= len(b); {
		id, n := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:]))
		off += 8
		if id == "data" {
			n = min(n, len(b)-off)
			pcm := make([]int16, n/2)
			for i := range pcm {
				pcm[i] = int16(binary.LittleEndian.Uint16(b[off+2*i:]))
			}
			return pcm, nil
		}
		off += n + n%2
	}
	return nil, errors.New(path + ": no data chunk")
}
