package roomleg

import (
	"slices"
	"testing"
	"time"

	"github.com/livekit/media-sdk"
)

type fakeTrack struct {
	got     []int16
	cleared int
}

func (f *fakeTrack) WriteSample(s media.PCM16Sample) error { f.got = append(f.got, s...); return nil }
func (f *fakeTrack) ClearQueue()                           { f.cleared++ }

func ms(n int) int { return n * Rate / 1000 }

// TestPacer steps the pacer on a synthetic clock: audio is handed over
// just ahead of real time, marks fire once the audio before them has
// played, a mark after nothing fires at once, and Clear takes back what is
// not played and fires the pending marks.
func TestPacer(t *testing.T) {
	out := &fakeTrack{}
	var marks []string
	p := newPacer(out, nil, func(n string) { marks = append(marks, n) })
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	var clock time.Duration
	p.now = func() time.Time { return at(clock) }
	// step advances the clock to d in ticks, as run does.
	step := func(d time.Duration) {
		for {
			marks = append(marks, p.step(at(clock))...)
			if clock >= d {
				return
			}
			clock = min(clock+tick, d)
		}
	}

	p.mark("empty")
	if !slices.Equal(marks, []string{"empty"}) {
		t.Fatalf("mark with nothing queued: marks = %v", marks)
	}
	marks = nil

	p.audio(make([]int16, ms(100)))
	p.mark("a")
	p.audio(make([]int16, ms(100)))
	p.mark("b")
	step(0)
	if len(out.got) != lead {
		t.Fatalf("handed %d samples at start, want the lead %d", len(out.got), lead)
	}
	step(50 * time.Millisecond)
	if len(out.got) != ms(50)+lead || len(marks) != 0 {
		t.Fatalf("at 50 ms: handed %d marks %v", len(out.got), marks)
	}
	step(99 * time.Millisecond)
	if len(marks) != 0 {
		t.Fatalf("mark a fired before its audio played: %v", marks)
	}
	step(100 * time.Millisecond)
	if !slices.Equal(marks, []string{"a"}) {
		t.Fatalf("at 100 ms marks = %v, want [a]", marks)
	}
	step(200 * time.Millisecond)
	if len(out.got) != ms(200) || !slices.Equal(marks, []string{"a", "b"}) {
		t.Fatalf("at 200 ms: handed %d marks %v", len(out.got), marks)
	}

	// A new burst after silence starts from its own clock.
	step(time.Second - tick)
	clock = time.Second
	marks = nil
	p.audio(make([]int16, ms(100)))
	p.mark("c")
	step(time.Second)
	step(time.Second + 30*time.Millisecond)
	p.clear()
	if out.cleared != 1 || !slices.Equal(marks, []string{"c"}) {
		t.Fatalf("clear: cleared %d marks %v", out.cleared, marks)
	}
	handed := len(out.got)
	step(time.Second + 60*time.Millisecond)
	if len(out.got) != handed {
		t.Fatalf("audio handed after clear: %d > %d", len(out.got), handed)
	}
	played, first := p.stats()
	if played != int64(ms(30)+ms(200)) || !first.Equal(t0) {
		t.Fatalf("stats = %d, %v", played, first)
	}
}
