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
	// Max caps the delay; a failed slot is retried every Max.
	Max time.Duration
	// Multiplier grows the delay after each further quick death.
	Multiplier float64
	// Jitter spreads each delay by ±Jitter of itself (0 to 1).
	Jitter float64
	// HealthyAfter is how long a run must last for its death not to count as quick.
	HealthyAfter time.Duration
	// FailAfter quick deaths in a row mark the slot failed (still retried every Max).
	FailAfter int
}

// DefaultPolicy is what voxfleet uses unless told otherwise: quick deaths
// restart after 0, 0.5, 1 and 2 s; the fifth in a row marks the slot failed
// and it is retried every 30 s from then on.
var DefaultPolicy = Policy{
	Initial:      500 * time.Millisecond,
	Max:          30 * time.Second,
	Multiplier:   2,
	Jitter:       0.2,
	HealthyAfter: 10 * time.Second,
	FailAfter:    5,
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
	case p.HealthyAfter <= 0:
		return fmt.Errorf("restart policy: healthy period must be positive, got %s", p.HealthyAfter)
	case p.FailAfter < 2:
		return fmt.Errorf("restart policy: fail after must be >= 2, got %d", p.FailAfter)
	}
	return nil
}

// Death is what the supervisor knows about one worker's end.
type Death struct {
	Started time.Time // when the process was started
	At      time.Time // when it died
	// Ready: it had answered /health, so it had served.
	Ready bool
	// Killed: it ended by a SIGKILL the supervisor did not send.
	Killed bool
	// Status is how it ended, for the reason ("exit 1", "killed by signal 9 (killed)").
	Status string
}

// Cause classifies a death; it labels the supervisor's metrics.
type Cause string

// The causes of a death.
const (
	// CauseKilled: killed from outside after serving; not the code's fault.
	CauseKilled Cause = "killed"
	// CauseCrashed: ended on its own (or by another signal) after serving.
	CauseCrashed Cause = "crashed"
	// CauseStartFailed: died before it was ready.
	CauseStartFailed Cause = "start_failed"
)

// Action is what to do after a death.
type Action int

// The actions a Decision can carry.
const (
	RestartNow Action = iota
	RestartAfter
)

func (a Action) String() string {
	switch a {
	case RestartNow:
		return "restart now"
	case RestartAfter:
		return "restart after backoff"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Decision is the Tracker's answer to a death.
type Decision struct {
	Action Action
	Delay  time.Duration // set for RestartAfter
	Cause  Cause
	// Streak is the number of quick deaths in a row, this one included.
	Streak int
	// Failed: the slot is crash-looping and reported failed; it is still
	// retried after Delay.
	Failed bool
	Reason string // for logs and status; never empty
}

// Tracker remembers one slot's recent deaths. It is not safe for concurrent
// use; the supervisor's loop owns it.
type Tracker struct {
	p      Policy
	streak int // quick deaths in a row
	rand   func() float64
}

// NewTracker returns a Tracker for p.
func NewTracker(p Policy) *Tracker {
	return &Tracker{p: p, rand: rand.Float64}
}

// Reset forgets every death, as after an operator's restart of a failed slot.
func (t *Tracker) Reset() { t.streak = 0 }

// Died records d and decides what to do.
func (t *Tracker) Died(d Death) Decision {
	run := d.At.Sub(d.Started).Round(time.Millisecond)
	cause := CauseStartFailed
	switch {
	case d.Ready && d.Killed:
		cause = CauseKilled
	case d.Ready:
		cause = CauseCrashed
	}
	if run >= t.p.HealthyAfter {
		t.streak = 0
		return Decision{Action: RestartNow, Cause: cause,
			Reason: fmt.Sprintf("%s after a healthy run of %s: restarting at once", d.Status, run)}
	}
	if cause == CauseKilled {
		return Decision{Action: RestartNow, Cause: cause, Streak: t.streak,
			Reason: fmt.Sprintf("%s after serving for %s, killed from outside, not a crash of its code: restarting at once", d.Status, run)}
	}
	t.streak++
	what := fmt.Sprintf("%s %s after start", d.Status, run)
	if cause == CauseStartFailed {
		what = fmt.Sprintf("%s before it was ready (%s after start)", d.Status, run)
	}
	if t.streak == 1 {
		return Decision{Action: RestartNow, Cause: cause, Streak: 1,
			Reason: what + ": first quick death, restarting at once"}
	}
	if t.streak >= t.p.FailAfter {
		return Decision{Action: RestartAfter, Delay: t.p.Max, Cause: cause, Streak: t.streak, Failed: true,
			Reason: fmt.Sprintf("%s: %d quick deaths in a row, crash-looping; retrying every %s", what, t.streak, t.p.Max)}
	}
	delay := float64(t.p.Initial) * math.Pow(t.p.Multiplier, float64(t.streak-2))
	if t.p.Jitter > 0 {
		delay *= 1 + t.p.Jitter*(2*t.rand()-1)
	}
	delay = math.Min(delay, float64(t.p.Max))
	dd := time.Duration(delay)
	return Decision{Action: RestartAfter, Delay: dd, Cause: cause, Streak: t.streak,
		Reason: fmt.Sprintf("%s: %d quick deaths in a row, restarting in %s", what, t.streak, dd.Round(time.Millisecond))}
}
