package agent

import (
	"context"
	"fmt"
	"math"
	"time"
)

// ScriptConfig configures the Scripted agent. Zero fields take defaults.
type ScriptConfig struct {
	// Greeting is played when the call is answered; nil means Chime().
	Greeting []int16
	// VAD decides when the caller has finished saying something.
	VAD VADConfig
	// HangupDigit ends the call when pressed; "" means "#".
	HangupDigit string
}

// Scripted is the default agent, needing no network: it greets the caller,
// plays back each utterance after the caller pauses, stops playing when the
// caller talks over it, and hangs up on HangupDigit.
type Scripted struct {
	Config ScriptConfig
}

// Mark names the Scripted agent puts after its greeting and its echoes.
const (
	MarkGreeting   = "greeting"
	MarkEchoPrefix = "echo-"
)

// NewSession implements Factory.
func (s Scripted) NewSession(call Call, out Sink) (Session, error) {
	cfg := s.Config
	if cfg.Greeting == nil {
		cfg.Greeting = Chime()
	}
	if cfg.HangupDigit == "" {
		cfg.HangupDigit = "#"
	}
	return &scriptedSession{cfg: cfg, call: call, out: out, vad: NewVAD(cfg.VAD)}, nil
}

type scriptedSession struct {
	cfg     ScriptConfig
	call    Call
	out     Sink
	vad     *VAD
	echoes  int
	playing int // marks sent and not yet played: audio still queued
}

func (s *scriptedSession) Start(context.Context) error {
	return s.play(s.cfg.Greeting, MarkGreeting)
}

func (s *scriptedSession) OnAudio(_ context.Context, pcm []int16) error {
	began, utt := s.vad.Push(pcm)
	if began && s.playing > 0 {
		// The caller talks over us: stop, and listen.
		if err := s.out.Clear(); err != nil {
			return fmt.Errorf("barge-in clear: %w", err)
		}
	}
	if utt == nil {
		return nil
	}
	s.echoes++
	return s.play(utt, fmt.Sprintf("%s%d", MarkEchoPrefix, s.echoes))
}

func (s *scriptedSession) OnDTMF(_ context.Context, digit string) error {
	if digit == s.cfg.HangupDigit {
		s.out.Hangup("caller pressed " + digit)
		return nil
	}
	return s.play(Beep(), "")
}

func (s *scriptedSession) OnMark(context.Context, string) error {
	if s.playing > 0 {
		s.playing--
	}
	return nil
}

func (s *scriptedSession) Close() error { return nil }

func (s *scriptedSession) play(pcm []int16, mark string) error {
	if err := s.out.Audio(pcm); err != nil {
		return fmt.Errorf("play %d samples: %w", len(pcm), err)
	}
	if mark == "" {
		return nil
	}
	if err := s.out.Mark(mark); err != nil {
		return fmt.Errorf("mark %q: %w", mark, err)
	}
	s.playing++
	return nil
}

// Chime is the default greeting: a rising C major arpeggio of soft bell
// tones, about 1.2 s.
func Chime() []int16 {
	var out []int16
	for _, hz := range []float64{523.25, 659.25, 783.99} {
		out = append(out, bell(hz, 220*time.Millisecond, 0.28)...)
	}
	out = append(out, bell(1046.5, 500*time.Millisecond, 0.22)...)
	return append(out, make([]int16, samples(80*time.Millisecond))...)
}

// Beep is a short tone acknowledging a key press.
func Beep() []int16 { return bell(880, 90*time.Millisecond, 0.15) }

// bell is one note: a sine with a quieter octave, 5 ms attack and an
// exponential decay, peak a fraction of full scale.
func bell(hz float64, d time.Duration, peak float64) []int16 {
	n := samples(d)
	out := make([]int16, n)
	attack := samples(5 * time.Millisecond)
	for i := range out {
		t := float64(i) / SampleRate
		env := math.Exp(-3 * float64(i) / float64(n))
		if i < attack {
			env *= float64(i) / float64(attack)
		}
		v := math.Sin(2*math.Pi*hz*t) + 0.3*math.Sin(4*math.Pi*hz*t)
		out[i] = int16(peak * 32767 * env * v / 1.3)
	}
	return out
}
