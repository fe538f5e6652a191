package restart

import (
	"testing"
	"time"
)

func TestTrackerSequence(t *testing.T) {
	p := Policy{Initial: 100 * time.Millisecond, Max: 350 * time.Millisecond, Multiplier: 2,
		HealthyAfter: 10 * time.Second, Window: time.Minute, MaxDeaths: 5}
	t0 := time.Unix(1000, 0)
	quick := time.Second // each run lasts 1s: a quick death

	type step struct {
		run    time.Duration // how long the process ran before dying
		gap    time.Duration // time since the previous death
		action Action
		delay  time.Duration
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"first death restarts at once", []step{{quick, 0, RestartNow, 0}}},
		{"backoff doubles and caps, then gives up", []step{
			{quick, 0, RestartNow, 0},
			{quick, time.Second, RestartAfter, 100 * time.Millisecond},
			{quick, time.Second, RestartAfter, 200 * time.Millisecond},
			{quick, time.Second, RestartAfter, 350 * time.Millisecond},
			{quick, time.Second, GiveUp, 0},
		}},
		{"a healthy run forgives", []step{
			{quick, 0, RestartNow, 0},
			{quick, time.Second, RestartAfter, 100 * time.Millisecond},
			{time.Minute, time.Minute, RestartNow, 0},
			{quick, time.Second, RestartNow, 0},
		}},
		{"deaths outside the window are forgotten", []step{
			{quick, 0, RestartNow, 0},
			{quick, time.Second, RestartAfter, 100 * time.Millisecond},
			{quick, 2 * time.Minute, RestartNow, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := NewTracker(p)
			now := t0
			for i, s := range tt.steps {
				now = now.Add(s.gap)
				d := tr.Died(now.Add(-s.run), now)
				if d.Action != s.action || d.Delay != s.delay {
					t.Fatalf("step %d: got %v %s (%s); want %v %s", i, d.Action, d.Delay, d.Reason, s.action, s.delay)
				}
			}
		})
	}
}

func TestJitterStaysInBounds(t *testing.T) {
	p := DefaultPolicy
	for _, r := range []float64{0, 0.5, 0.999} {
		tr := NewTracker(p)
		tr.rand = func() float64 { return r }
		now := time.Unix(0, 0)
		tr.Died(now, now)
		d := tr.Died(now, now.Add(time.Millisecond))
		lo := time.Duration(float64(p.Initial) * (1 - p.Jitter))
		hi := time.Duration(float64(p.Initial) * (1 + p.Jitter))
		if d.Delay < lo || d.Delay > hi {
			t.Errorf("rand=%g: delay %s outside [%s,%s]", r, d.Delay, lo, hi)
		}
	}
}

func TestResetAndValidate(t *testing.T) {
	tr := NewTracker(Policy{Initial: 1, Max: 1, Multiplier: 1, HealthyAfter: time.Hour, Window: time.Hour, MaxDeaths: 2})
	now := time.Unix(0, 0)
	tr.Died(now, now)
	if d := tr.Died(now, now); d.Action != GiveUp {
		t.Fatalf("want GiveUp, got %v", d.Action)
	}
	tr.Reset()
	if d := tr.Died(now, now); d.Action != RestartNow {
		t.Fatalf("after Reset want RestartNow, got %v", d.Action)
	}
	if err := DefaultPolicy.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := DefaultPolicy
	bad.MaxDeaths = 0
	if bad.Validate() == nil {
		t.Fatal("MaxDeaths 0 accepted")
	}
}
