package vad

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

const rate = 8000

func tone(d time.Duration, amp float64) []int16 {
	out := make([]int16, int(d)*rate/int(time.Second))
	for i := range out {
		out[i] = int16(amp * math.Sin(2*math.Pi*220*float64(i)/rate))
	}
	return out
}

func quietNoise(d time.Duration, amp float64) []int16 {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]int16, int(d)*rate/int(time.Second))
	for i := range out {
		out[i] = int16(amp * (r.Float64()*2 - 1))
	}
	return out
}

func cat(parts ...[]int16) []int16 {
	var out []int16
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// run feeds 20 ms frames and returns each event with the time (audio ms) of
// the frame that produced it.
func run(d *Detector, pcm []int16) (evs []Event, at []int) {
	for i := 0; i+160 <= len(pcm); i += 160 {
		if e := d.Push(pcm[i : i+160]); e != None {
			evs = append(evs, e)
			at = append(at, (i+160)/8)
		}
	}
	return evs, at
}

func TestDetector(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		cfg  Config
		in   []int16
		want []Event
		at   []int // ms, optional
	}{
		{"silence", Config{}, quietNoise(2*time.Second, 0), nil, nil},
		{"line noise", Config{}, quietNoise(2*time.Second, 300), nil, nil},
		{"loud hiss is not speech", Config{}, quietNoise(2*time.Second, 6000), nil, nil},
		{"speech then pause", Config{}, cat(tone(500*ms, 8000), tone(700*ms, 0)), []Event{SpeechStart, EndOfTurn}, []int{60, 1100}},
		{"pause too short holds the turn", Config{}, cat(tone(500*ms, 8000), tone(400*ms, 0), tone(300*ms, 8000), tone(700*ms, 0)), []Event{SpeechStart, EndOfTurn}, nil},
		{"click is no speech", Config{}, cat(tone(40*ms, 8000), tone(700*ms, 0)), nil, nil},
		{"a short noise is discarded", Config{}, cat(tone(80*ms, 8000), tone(700*ms, 0)), []Event{SpeechStart, Discard}, nil},
		{"custom end of turn", Config{EndOfTurn: 400 * ms, Fixed: true}, cat(tone(500*ms, 8000), tone(500*ms, 0)), []Event{SpeechStart, EndOfTurn}, []int{60, 900}},
		{"max turn", Config{MaxTurn: time.Second}, tone(1500*ms, 8000), []Event{SpeechStart, EndOfTurn, SpeechStart}, []int{60, 1000, 1060}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, at := run(New(tt.cfg, rate), tt.in)
			if len(evs) != len(tt.want) {
				t.Fatalf("events %v at %v; want %v", evs, at, tt.want)
			}
			for i := range evs {
				if evs[i] != tt.want[i] || (tt.at != nil && at[i] != tt.at[i]) {
					t.Fatalf("events %v at %v ms; want %v at %v", evs, at, tt.want, tt.at)
				}
			}
		})
	}
}

// A caller who pauses long inside sentences gets a longer end of turn; one
// who speaks in quick bursts, a shorter one.
func TestEndOfTurnAdapts(t *testing.T) {
	ms := time.Millisecond
	slow := New(Config{}, rate)
	fast := New(Config{}, rate)
	for range 5 {
		run(slow, cat(tone(300*ms, 8000), tone(450*ms, 0), tone(300*ms, 8000), tone(1300*ms, 0)))
		run(fast, cat(tone(300*ms, 8000), tone(120*ms, 0), tone(300*ms, 8000), tone(1300*ms, 0)))
	}
	if s, f := slow.EndOfTurnSilence(), fast.EndOfTurnSilence(); !(s > 700*ms && f < 500*ms) {
		t.Fatalf("end of turn: slow caller %v, fast caller %v", s, f)
	}
	fixed := New(Config{Fixed: true}, rate)
	run(fixed, cat(tone(300*ms, 8000), tone(120*ms, 0), tone(300*ms, 8000), tone(1300*ms, 0)))
	if fixed.EndOfTurnSilence() != 600*ms {
		t.Fatalf("fixed end of turn moved to %v", fixed.EndOfTurnSilence())
	}
}
