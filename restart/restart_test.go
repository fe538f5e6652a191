package restart

import (
	"strings"
	"testing"
	"time"
)

func TestTrackerSequence(t *testing.T) {
	p := Policy{Initial: 100 * time.Millisecond, Max: 350 * time.Millisecond, Multiplier: 2,
		HealthyAfter: 10 * time.Second, FailAfter: 5}
	quick := time.Second // each run lasts 1s: a quick death

	// kinds of death
	const (
		startFail = iota // died before ready
		crash            // exited on its own after serving
		kill             // SIGKILL from outside after serving
		killStart        // SIGKILL before ready
	)
	type step struct {
		kind   int
		run    time.Duration // how long the process ran before dying
		action Action
		delay  time.Duration
		failed bool
		cause  Cause
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"first death restarts at once", []step{{startFail, quick, RestartNow, 0, false, CauseStartFailed}}},
		{"a bad build backs off to the cap, is failed, and is still retried at the cap", []step{
			{startFail, quick, RestartNow, 0, false, CauseStartFailed},
			{startFail, quick, RestartAfter, 100 * time.Millisecond, false, CauseStartFailed},
			{startFail, quick, RestartAfter, 200 * time.Millisecond, false, CauseStartFailed},
			{startFail, quick, RestartAfter, 350 * time.Millisecond, false, CauseStartFailed},
			{startFail, quick, RestartAfter, 350 * time.Millisecond, true, CauseStartFailed},
			{startFail, quick, RestartAfter, 350 * time.Millisecond, true, CauseStartFailed},
			{startFail, quick, RestartAfter, 350 * time.Millisecond, true, CauseStartFailed},
		}},
		{"kills from outside after serving always restart at once", []step{
			{kill, quick, RestartNow, 0, false, CauseKilled},
			{kill, 10 * time.Millisecond, RestartNow, 0, false, CauseKilled},
			{kill, quick, RestartNow, 0, false, CauseKilled},
			{kill, quick, RestartNow, 0, false, CauseKilled},
			{kill, quick, RestartNow, 0, false, CauseKilled},
			{kill, quick, RestartNow, 0, false, CauseKilled},
			{kill, quick, RestartNow, 0, false, CauseKilled},
		}},
		{"kills neither add to nor forgive a crash loop", []step{
			{crash, quick, RestartNow, 0, false, CauseCrashed},
			{kill, quick, RestartNow, 0, false, CauseKilled},
			{crash, quick, RestartAfter, 100 * time.Millisecond, false, CauseCrashed},
		}},
		{"a kill before ready counts as a failed start", []step{
			{killStart, quick, RestartNow, 0, false, CauseStartFailed},
			{killStart, quick, RestartAfter, 100 * time.Millisecond, false, CauseStartFailed},
		}},
		{"code that crashes after serving backs off too", []step{
			{crash, quick, RestartNow, 0, false, CauseCrashed},
			{crash, quick, RestartAfter, 100 * time.Millisecond, false, CauseCrashed},
			{crash, quick, RestartAfter, 200 * time.Millisecond, false, CauseCrashed},
		}},
		{"a healthy run forgives", []step{
			{startFail, quick, RestartNow, 0, false, CauseStartFailed},
			{startFail, quick, RestartAfter, 100 * time.Millisecond, false, CauseStartFailed},
			{crash, time.Minute, RestartNow, 0, false, CauseCrashed},
			{crash, quick, RestartNow, 0, false, CauseCrashed},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(p)
			now := time.Unix(1000, 0)
			for i, s := range tt.steps {
				now = now.Add(s.run + time.Second)
				d := tr.Died(Death{Started: now.Add(-s.run), At: now, Ready: s.kind == crash || s.kind == kill,
					Killed: s.kind == kill || s.kind == killStart, Status: "exit 1"})
				if d.Action != s.action || d.Delay != s.delay || d.Failed != s.failed || d.Cause != s.cause {
					t.Fatalf("step %d: got %v %s failed=%v %s (%s); want %v %s failed=%v %s",
						i, d.Action, d.Delay, d.Failed, d.Cause, d.Reason, s.action, s.delay, s.failed, s.cause)
				}
				if d.Reason == "" || !strings.Contains(d.Reason, "exit 1") {
					t.Fatalf("step %d: reason %q does not say how the worker ended", i, d.Reason)
				}
			}
		})
	}
}

func TestJitterStaysInBoundsAndUnderTheCap(t *testing.T) {
	p := DefaultPolicy
	for _, r := range []float64{0, 0.5, 0.999} {
		tr := NewTracker(p)
		tr.rand = func() float64 { return r }
		now := time.Unix(0, 0)
		quick := Death{Started: now, At: now.Add(time.Millisecond)}
		tr.Died(quick)
		d := tr.Died(quick)
		lo := time.Duration(float64(p.Initial) * (1 - p.Jitter))
		hi := time.Duration(float64(p.Initial) * (1 + p.Jitter))
		if d.Delay < lo || d.Delay > hi {
			t.Errorf("rand=%g: delay %s outside [%s,%s]", r, d.Delay, lo, hi)
		}
		for range 10 {
			if d = tr.Died(quick); d.Delay > p.Max {
				t.Errorf("rand=%g: delay %s above the cap %s", r, d.Delay, p.Max)
			}
		}
	}
}

func TestResetAndValidate(t *testing.T) {
	tr := NewTracker(Policy{Initial: 1, Max: 1, Multiplier: 1, HealthyAfter: time.Hour, FailAfter: 2})
	now := time.Unix(0, 0)
	tr.Died(Death{Started: now, At: now})
	if d := tr.Died(Death{Started: now, At: now}); !d.Failed {
		t.Fatalf("want failed, got %+v", d)
	}
	tr.Reset()
	if d := tr.Died(Death{Started: now, At: now}); d.Action != RestartNow {
		t.Fatalf("after Reset want RestartNow, got %v", d.Action)
	}
	if err := DefaultPolicy.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := DefaultPolicy
	bad.FailAfter = 1
	if bad.Validate() == nil {
		t.Fatal("FailAfter 1 accepted")
	}
}
