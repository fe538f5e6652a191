package agent

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

func tone(d time.Duration, amp float64) []int16 {
	out := make([]int16, samples(d))
	for i := range out {
		out[i] = int16(amp * math.Sin(2*math.Pi*300*float64(i)/SampleRate))
	}
	return out
}

func silence(d time.Duration) []int16 { return make([]int16, samples(d)) }

// feed pushes audio in 20 ms chunks and returns the utterances completed and
// how many times speech began.
func feed(v *VAD, pcm []int16) (utts [][]int16, began int) {
	for len(pcm) > 0 {
		n := min(FrameSamples, len(pcm))
		b, u := v.Push(pcm[:n])
		if b {
			began++
		}
		if u != nil {
			utts = append(utts, u)
		}
		pcm = pcm[n:]
	}
	return utts, began
}

func concat(parts ...[]int16) []int16 {
	var out []int16
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestVAD(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name     string
		cfg      VADConfig
		audio    []int16
		wantUtts []int // lengths in samples
		began    int
	}{
		{"silence only", VADConfig{}, silence(2 * time.Second), nil, 0},
		{"speech then pause", VADConfig{}, concat(tone(500*ms, 8000), silence(600*ms)), []int{4000}, 1},
		{"pause too short", VADConfig{}, concat(tone(500*ms, 8000), silence(400*ms)), nil, 1},
		{"two utterances", VADConfig{}, concat(tone(300*ms, 8000), silence(700*ms), tone(200*ms, 8000), silence(600*ms)), []int{2400, 1600}, 2},
		{"short gap joins words", VADConfig{}, concat(tone(300*ms, 8000), silence(200*ms), tone(300*ms, 8000), silence(600*ms)), []int{6400}, 1},
		{"click ignored", VADConfig{}, concat(tone(40*ms, 8000), silence(600*ms)), nil, 1},
		{"quiet below threshold", VADConfig{}, concat(tone(500*ms, 300), silence(600*ms)), nil, 0},
		{"custom pause", VADConfig{Pause: 200 * ms}, concat(tone(300*ms, 8000), silence(200*ms)), []int{2400}, 1},
		{"max utterance cuts", VADConfig{MaxUtterance: time.Second}, tone(2500*ms, 8000), []int{8000, 8000}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			utts, began := feed(NewVAD(tt.cfg), tt.audio)
			if began != tt.began {
				t.Errorf("speech began %d times; want %d", began, tt.began)
			}
			if len(utts) != len(tt.wantUtts) {
				t.Fatalf("%d utterances; want %d", len(utts), len(tt.wantUtts))
			}
			for i, u := range utts {
				if len(u) != tt.wantUtts[i] {
					t.Errorf("utterance %d: %d samples; want %d", i, len(u), tt.wantUtts[i])
				}
			}
		})
	}
}

// sink records what a session sends.
type sink struct {
	audio  []int16
	marks  []string
	clears int
	hangup string
	closed bool
}

var errEnded = errors.New("call ended")

func (s *sink) Audio(pcm []int16) error {
	if s.closed {
		return errEnded
	}
	s.audio = append(s.audio, pcm...)
	return nil
}
func (s *sink) Mark(name string) error { s.marks = append(s.marks, name); return nil }
func (s *sink) Clear() error           { s.clears++; return nil }
func (s *sink) Hangup(reason string)   { s.hangup = reason }

func TestScripted(t *testing.T) {
	ctx := context.Background()
	out := &sink{}
	sess, err := Scripted{}.NewSession(Call{ID: "c1"}, out)
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if len(out.audio) < SampleRate/2 || RMS(out.audio) < DefaultThreshold {
		t.Fatalf("greeting: %d samples at RMS %.0f; want audible audio", len(out.audio), RMS(out.audio))
	}
	if len(out.marks) != 1 || out.marks[0] != MarkGreeting {
		t.Fatalf("marks = %v", out.marks)
	}

	// The caller talks over the greeting: barge-in clears it.
	greeting := len(out.audio)
	said := tone(400*time.Millisecond, 8000)
	for _, chunk := range [][]int16{said[:FrameSamples], said[FrameSamples:]} {
		if err := sess.OnAudio(ctx, chunk); err != nil {
			t.Fatal(err)
		}
	}
	if out.clears != 1 {
		t.Fatalf("clears = %d; want 1 after barge-in", out.clears)
	}
	if len(out.audio) != greeting {
		t.Fatal("echo before the caller paused")
	}
	if err := sess.OnMark(ctx, MarkGreeting); err != nil {
		t.Fatal(err)
	}
	if err := sess.OnAudio(ctx, silence(600*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	echo := out.audio[greeting:]
	if len(echo) != len(said) {
		t.Fatalf("echo has %d samples; want %d", len(echo), len(said))
	}
	if out.marks[len(out.marks)-1] != MarkEchoPrefix+"1" {
		t.Fatalf("marks = %v", out.marks)
	}

	// A digit other than # beeps; # hangs up.
	if err := sess.OnDTMF(ctx, "5"); err != nil || out.hangup != "" {
		t.Fatalf("digit 5: %v, hangup %q", err, out.hangup)
	}
	if err := sess.OnDTMF(ctx, "#"); err != nil || out.hangup == "" {
		t.Fatalf("digit #: %v, hangup %q", err, out.hangup)
	}

	// A sink that has gone away surfaces as an error, not a panic.
	out.closed = true
	if err := sess.Start(ctx); !errors.Is(err, errEnded) {
		t.Fatalf("play after end: %v", err)
	}
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestChimeIsAudibleAndUnclipped(t *testing.T) {
	c := Chime()
	if d := time.Duration(len(c)) * time.Second / SampleRate; d < time.Second || d > 2*time.Second {
		t.Fatalf("chime lasts %v", d)
	}
	var peak int16
	for _, s := range c {
		peak = max(peak, s, -s)
	}
	if peak < 5000 || peak > 32000 {
		t.Fatalf("chime peak %d; want audible and unclipped", peak)
	}
}
