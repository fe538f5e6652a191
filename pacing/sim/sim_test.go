package sim

import (
	"fmt"
	"math"
	"testing"

	"github.com/voxplatform/vox/pacing"
)

func world(p float64) World {
	return World{
		Workers: 50, PHuman: func(float64) float64 { return p }, PMachine: 0.1,
		AnswerMin: 5, AnswerMax: 25, RingTimeout: 25, HandleMean: 120, HandleCV: 0.5,
		Tick: 2, Day: 2 * 3600,
	}
}

func paced(t *testing.T) Strategy {
	t.Helper()
	st, err := NewPaced(pacing.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestPacedKeepsTheCap runs the pacer in the simulated world, small and
// mid-sized campaigns, steady and drifting answer rates: it must keep
// every rolling hour and the whole day under the 3% cap, and keep the
// workers far busier than dialling one call per free worker does.
func TestPacedKeepsTheCap(t *testing.T) {
	drift := func(w World) func(float64) float64 {
		return func(t float64) float64 { return 0.3 + 0.2*math.Cos(2*math.Pi*t/w.Day) }
	}
	for _, workers := range []int{10, 50} {
		for _, p := range []float64{0.1, 0.3, 0.5, -1} {
			for seed := uint64(1); seed <= 2; seed++ {
				w := world(p)
				w.Workers = workers
				name := fmt.Sprintf("N=%d p=%.1f seed %d", workers, p, seed)
				if p < 0 {
					w.PHuman = drift(w)
					name = fmt.Sprintf("N=%d drift seed %d", workers, seed)
				}
				base := Simulate(w, OnePerFree{}, seed)
				got := Simulate(w, paced(t), seed)
				t.Logf("%s: one-per-free %.1f%%; paced %.1f%% util, %.2f%% abandoned, worst hour %.2f%%",
					name, 100*base.Utilisation, 100*got.Utilisation, 100*got.Abandon, 100*got.WorstHour)
				if base.Abandon != 0 {
					t.Errorf("%s: one-per-free abandoned %.2f%%: it never dials ahead", name, 100*base.Abandon)
				}
				if got.WorstHour > 0.03 || got.Abandon > 0.03 {
					t.Errorf("%s: worst hour %.2f%%, day %.2f%%: over the 3%% cap", name, 100*got.WorstHour, 100*got.Abandon)
				}
				// Ten workers answered half the time leave predictive dialling
				// little room: it must not fall behind one-per-free.
				if got.Utilisation < base.Utilisation-0.01 {
					t.Errorf("%s: paced utilisation %.1f%%, want at least one-per-free's %.1f%%",
						name, 100*got.Utilisation, 100*base.Utilisation)
				}
				if workers == 50 && got.Utilisation < base.Utilisation+0.1 {
					t.Errorf("%s: paced utilisation %.1f%%, want 10 points over one-per-free's %.1f%%",
						name, 100*got.Utilisation, 100*base.Utilisation)
				}
			}
		}
	}
}

// TestWorldModel checks the simulated world against the figure a simple
// calculation gives: one dial per free worker at p=0.3 keeps workers busy
// about 62% of the time (120 s calls, about 73 s idle between them).
func TestWorldModel(t *testing.T) {
	r := Simulate(world(0.3), OnePerFree{}, 1)
	if r.Utilisation < 0.58 || r.Utilisation > 0.66 {
		t.Fatalf("one-per-free utilisation %.1f%%, want about 62%%", 100*r.Utilisation)
	}
}

func TestSameSeedSameDay(t *testing.T) {
	a := Simulate(world(0.3), paced(t), 7)
	b := Simulate(world(0.3), paced(t), 7)
	if a != b {
		t.Fatalf("same seed, different days:\n%+v\n%+v", a, b)
	}
	if c := Simulate(world(0.3), paced(t), 8); c == a {
		t.Fatalf("another seed gave the very same day: %+v", c)
	}
}
