package roomleg

import (
	"slices"
	"testing"
	"time"
)

type fakeTrack struct{ frames [][]int16 }

func (f *fakeTrack) writeFrame(pcm []int16) error {
	f.frames = append(f.frames, slices.Clone(pcm))
	return nil
}

func ms(n int) int { return n * Rate / 1000 }

// loud counts the frames carrying agent audio (non-zero samples).
func (f *fakeTrack) loud() int {
	n := 0
	for _, fr := range f.frames {
		if slices.ContainsFunc(fr, func(s int16) bool { return s != 0 }) {
			n++
		}
	}
	return n
}

func tone(n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = 1000
	}
	return out
}

// TestPacer steps the pacer on a synthetic clock: one 20 ms frame per tick,
// silence when idle; marks fire once the frames before them are out; a mark
// after nothing fires at once; Clear drops what is unsent and fires the
// pending marks; a long stall is skipped, not burst.
func TestPacer(t *testing.T) {
	out := &fakeTrack{}
	var marks []string
	p := newPacer(out, nil, func(n string) { marks = append(marks, n) })
	t0 := time.Unix(1000, 0)
	step := func(d time.Duration) { marks = append(marks, p.step(t0.Add(d))...) }

	p.mark("empty")
	if !slices.Equal(marks, []string{"empty"}) {
		t.Fatalf("mark with nothing queued: marks = %v", marks)
	}
	marks = nil
	step(0)
	if len(out.frames) != 1 || out.loud() != 0 || len(out.frames[0]) != frameSamples {
		t.Fatalf("idle tick: %d frames, %d loud", len(out.frames), out.loud())
	}

	p.audio(tone(ms(100)))
	p.mark("a")
	p.audio(tone(ms(50)))
	p.mark("b")
	for i := 1; i <= 4; i++ {
		step(time.Duration(i) * frameDur)
	}
	if out.loud() != 4 || len(marks) != 0 {
		t.Fatalf("after 4 ticks: %d loud frames, marks %v", out.loud(), marks)
	}
	step(5 * frameDur)
	if !slices.Equal(marks, []string{"a"}) {
		t.Fatalf("after 100 ms sent: marks %v, want [a]", marks)
	}
	step(6 * frameDur)
	step(7 * frameDur)
	step(8 * frameDur) // the last 10 ms, padded with silence
	if !slices.Equal(marks, []string{"a", "b"}) || out.loud() != 8 {
		t.Fatalf("after 150 ms sent: marks %v, loud frames %d", marks, out.loud())
	}

	marks = nil
	p.audio(tone(ms(200)))
	p.mark("c")
	step(9 * frameDur)
	p.clear()
	if !slices.Equal(marks, []string{"c"}) {
		t.Fatalf("clear: marks %v", marks)
	}
	loud := out.loud()
	step(10 * frameDur)
	if out.loud() != loud {
		t.Fatal("audio sent after clear")
	}

	// A stall of a second sends at most maxCatchUp frames.
	n := len(out.frames)
	step(10*frameDur + time.Second)
	if got := len(out.frames) - n; got != 1 {
		t.Fatalf("after a 1 s stall %d frames went out at once, want 1", got)
	}
	n = len(out.frames)
	step(10*frameDur + time.Second + 3*frameDur)
	if got := len(out.frames) - n; got != 3 {
		t.Fatalf("3 late ticks sent %d frames, want 3", got)
	}
	sent, first := p.stats()
	if sent != int64(ms(150)+frameSamples) || !first.Equal(t0.Add(frameDur)) {
		t.Fatalf("stats = %d, %v", sent, first)
	}
}
