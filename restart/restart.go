package restart

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Policy configures a Tracker. The zero value is not useful; start from
// DefaultPolicy.
type Policy struct {
	// Initial is the delay after the second quick death in a row.
	Initial time.Duration
	// Max caps the delay.
	Max time.Duration
	// Multiplier grows the delay after each further quick death.
	Multiplier float64
	// Jitter spreads each delay by ±Jitter of itself (0 to 1).
	Jitter float64
	// HealthyAfter is how long a run must last for its death not to count as quick.
	HealthyAfter time.Duration
	// Window and MaxDeaths: MaxDeaths quick deaths within Window give up.
	Window    time.Duration
	MaxDeaths int
}

// DefaultPolicy is what voxfleet uses unless told otherwise.
var DefaultPolicy = Policy{
	Initial:      100 * time.Millisecond,
	Max:          10 * time.Second,
	Multiplier:   2,
	Jitter:       0.2,
	HealthyAfter: 10 * time.Second,
	Window:       60 * time.Second,
	MaxDeaths:    5,
}

// Validate reports the first setting that makes p unusable.
func (p Policy) Validate() error {
	switch {
	case p.Initial <= 0:
		return fmt.Errorf("restart policy: initial delay must be positive, got %s", p.Initial)
	case p.Max < p.Initial:
		return fmt.Errorf("restart policy: max delay %s below initial %s", p.Max, p.Initial)
	case p.Multiplier < 1:
		return fmt.Errorf("restart policy: multiplier must be >= 1, got %g", p.Multiplier)
	case p.Jitter < 0 || p.Jitter > 1:
		return fmt.Errorf("restart policy: jitter must be within [0,1], got %g", p.Jitter)
	case p.HealthyAfter <= 0 || p.Window <= 0:
		return fmt.Errorf("restart policy: healthy period and window must be positive")
	case p.MaxDeaths < 1:
		return fmt.Errorf("restart policy: max deaths must be >= 1, got %d", p.MaxDeaths)
	}
	return nil
}

// Action is what to do after a death.
type Action int

// The actions a Decision can carry.
const (
	RestartNow Action = iota
	RestartAfter
	GiveUp
)

func (a Action) String() string {
	switch a {
	case RestartNow:
		return "restart now"
	case RestartAfter:
		return "restart after backoff"
	case GiveUp:
		return "give up"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Decision is the Tracker's answer to a death.
type Decision struct {
	Action Action
	Delay  time.Duration // set for RestartAfter
	Deaths int           // quick deaths within the window, this one included
	Reason string        // for logs and status, e.g. "5 quick deaths in 60s"
}

// Tracker remembers one slot's recent deaths. It is not safe for concurrent
// use; the supervisor's loop owns it.
type Tracker struct {
	p     Policy
	quick []time.Time // times of quick deaths still within the window
	rand  func() float64
}

// NewTracker returns a Tracker for p.
func NewTracker(p Policy) *Tracker {
	return &Tracker{p: p, rand: rand.Float64}
}

// Reset forgets every death, as after an operator's restart of a failed slot.
func (t *Tracker) Reset() { t.quick = t.quick[:0] }

// Died records that a process started at started died at now, and decides.
func (t *Tracker) Died(started, now time.Time) Decision {
	if now.Sub(started) >= t.p.HealthyAfter {
		t.quick = t.quick[:0]
		return Decision{Action: RestartNow, Reason: "died after a healthy run"}
	}
	keep := t.quick[:0]
	for _, d := range t.quick {
		if now.Sub(d) < t.p.Window {
			keep = append(keep, d)
		}
	}
	t.quick = append(keep, now)
	n := len(t.quick)
	if n >= t.p.MaxDeaths {
		return Decision{Action: GiveUp, Deaths: n,
			Reason: fmt.Sprintf("%d quick deaths within %s", n, t.p.Window)}
	}
	if n == 1 {
		return Decision{Action: RestartNow, Deaths: n, Reason: "first quick death"}
	}
	d := float64(t.p.Initial) * math.Pow(t.p.Multiplier, float64(n-2))
	d = math.Min(d, float64(t.p.Max))
	if t.p.Jitter > 0 {
		d *= 1 + t.p.Jitter*(2*t.rand()-1)
	}
	return Decision{Action: RestartAfter, Delay: time.Duration(d), Deaths: n,
		Reason: fmt.Sprintf("%d quick deaths within %s", n, t.p.Window)}
}
