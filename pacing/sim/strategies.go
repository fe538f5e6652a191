package sim

import (
	"math"

	"github.com/voxplatform/vox/pacing"
)

// quiet is the part of Strategy that baselines which learn nothing share.
type quiet struct{}

func (quiet) DialEnded(pacing.Outcome, float64) {}
func (quiet) CallEnded(float64)                 {}
func (quiet) Answered(bool)                     {}

// OnePerFree places one dial for each free worker not already covered by a
// ringing dial: never abandons, idles while dials ring out.
type OnePerFree struct{ quiet }

// Decide implements Strategy.
func (OnePerFree) Decide(_ float64, s pacing.Snapshot) int {
	return max(0, s.Free-len(s.Ringing))
}

// FixedRatio keeps Level × workers lines in use (calls plus ringing dials),
// like a ratio dialler's dial level.
type FixedRatio struct {
	quiet
	Level float64
}

// Decide implements Strategy.
func (f FixedRatio) Decide(_ float64, s pacing.Snapshot) int {
	n := s.Free + len(s.Busy)
	return max(0, int(math.Round(f.Level*float64(n)))-len(s.Busy)-len(s.Ringing))
}

// Vicidial ports the behaviour VICIdial documents for its ADAPT_HARD_LIMIT
// dial method: the dial level starts at 1 and is recomputed every 15 s,
// rising with the share of agents left waiting and falling with calls
// dropped in the interval, between 1 and the maximum level (3.0 by
// default); while the day's drop percentage is at or over the limit (3%) the
// level is held at 1. The lines goal subtracts calls connected and ringing:
// goal = round(level × agents) − busy − ringing.
type Vicidial struct {
	level, maxLevel, limit float64
	interval               float64
	lastAdapt              float64
	waitSum                float64 // free agents summed over the interval's ticks
	ticks                  int
	drops                  int // abandons in the interval
	dayAnswers, dayDrops   int
}

// NewVicidial returns the port with VICIdial's defaults.
func NewVicidial() *Vicidial {
	return &Vicidial{level: 1, maxLevel: 3, limit: 0.03, interval: 15}
}

// Decide implements Strategy.
func (v *Vicidial) Decide(now float64, s pacing.Snapshot) int {
	n := s.Free + len(s.Busy)
	v.waitSum += float64(s.Free)
	v.ticks++
	if now-v.lastAdapt >= v.interval && v.ticks > 0 && n > 0 {
		drop := 0.0
		if v.dayAnswers > 0 {
			drop = float64(v.dayDrops) / float64(v.dayAnswers)
		}
		if drop >= v.limit {
			v.level = 1
		} else {
			waiting := v.waitSum / float64(v.ticks) / float64(n)
			v.level += waiting - float64(v.drops)/float64(n)
			v.level = math.Max(1, math.Min(v.maxLevel, v.level))
		}
		v.lastAdapt, v.waitSum, v.ticks, v.drops = now, 0, 0, 0
	}
	return max(0, int(math.Round(v.level*float64(n)))-len(s.Busy)-len(s.Ringing))
}

// DialEnded implements Strategy.
func (v *Vicidial) DialEnded(pacing.Outcome, float64) {}

// CallEnded implements Strategy.
func (v *Vicidial) CallEnded(float64) {}

// Answered implements Strategy: it counts the day's drops.
func (v *Vicidial) Answered(abandoned bool) {
	v.dayAnswers++
	if abandoned {
		v.dayDrops++
		v.drops++
	}
}

// Paced is the pacing package as the dialler runs it.
type Paced struct {
	p   *pacing.Pacer
	cap float64
}

// Prune implements Pruner.
func (o *Paced) Prune(_ float64, s pacing.Snapshot) []int { return o.p.Prune(s) }

// HungUp implements Pruner.
func (o *Paced) HungUp(ring float64) { o.p.Estimator().ObserveHungUp(ring) }

// NewPaced returns a [pacing.Pacer] with cfg as a Strategy.
func NewPaced(cfg pacing.Config) (*Paced, error) {
	p, err := pacing.New(cfg)
	if err != nil {
		return nil, err
	}
	return &Paced{p: p, cap: cfg.Cap}, nil
}

// Decide implements Strategy. As the dialler does, a campaign whose 24-hour
// or 30-day abandon rate is at or over the cap, however few people have
// answered, gets one dial per free worker.
func (o *Paced) Decide(_ float64, s pacing.Snapshot) int {
	d := o.p.Decide(s).Dials
	over := func(t pacing.Tally) bool { return t.HumanAnswers > 0 && t.Rate() >= o.cap }
	if over(s.Day) || over(s.Month) {
		d = min(d, max(0, s.Free-len(s.Ringing)))
	}
	return d
}

// DialEnded implements Strategy.
func (o *Paced) DialEnded(out pacing.Outcome, ring float64) { o.p.Estimator().ObserveDial(out, ring) }

// CallEnded implements Strategy.
func (o *Paced) CallEnded(h float64) { o.p.Estimator().ObserveCall(h) }

// Answered implements Strategy.
func (o *Paced) Answered(abandoned bool) { o.p.ObserveAnswer(abandoned) }
