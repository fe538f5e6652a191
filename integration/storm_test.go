package integration

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voxplatform/vox/fleetapi"
)

// storm is what a kill storm did.
type storm struct {
	kills   int
	pids    map[int]bool // every pid the storm killed
	calls   []string     // the calls those workers were in, as /health/fleet said
	stopped time.Time    // when the last kill was sent
}

// killStorm sends SIGKILL to a random live worker every `every` for d.
func (f *fleet) killStorm(t *testing.T, d, every time.Duration) storm {
	t.Helper()
	s := storm{pids: map[int]bool{}}
	end := time.Now().Add(d)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for time.Now().Before(end) {
		<-tick.C
		fl, _ := f.health()
		var live []fleetapi.FleetWorker
		for _, w := range fl.Workers {
			if !w.Retired && w.PID > 0 && !s.pids[w.PID] {
				live = append(live, w)
			}
		}
		if len(live) == 0 {
			continue
		}
		w := live[rand.IntN(len(live))]
		if syscall.Kill(w.PID, syscall.SIGKILL) == nil {
			s.kills++
			s.pids[w.PID] = true
			if w.CallID != "" {
				s.calls = append(s.calls, w.CallID)
			}
		}
	}
	s.stopped = time.Now()
	return s
}

// markStormCuts tells l which calls were on a worker the storm killed: the
// daemon logs every death in a call with its pid and call id.
func (f *fleet) markStormCuts(l *load, s storm) {
	for _, id := range s.calls {
		l.markKilled(id)
	}
	for _, line := range strings.Split(f.logText(), "\n") {
		if !strings.Contains(line, `"worker died in a call"`) {
			continue
		}
		var e struct {
			PID    int    `json:"pid"`
			CallID string `json:"call_id"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && s.pids[e.PID] {
			l.markKilled(e.CallID)
		}
	}
}

// fullStrength reports whether every desired worker is ready, none is
// failed or backing off, and nginx routes to all of them.
func (f *fleet) fullStrength(n int) bool {
	fl, _ := f.health()
	if fl.Ready != n || fl.Failed != 0 || f.upstreamServers() != n {
		return false
	}
	for _, w := range fl.Workers {
		if w.State == fleetapi.SlotBackoff {
			return false
		}
	}
	return true
}

// TestKillStorm: SIGKILLs from outside, every 200 ms at a random worker
// while calls arrive, never leave a slot failed; the host is back at full
// strength within one backoff cap of the storm's end with no manual step,
// and the only calls cut are those on killed workers.
func TestKillStorm(t *testing.T) {
	const workers, callers = 4, 3
	f := startFleet(t, workers, 0)
	f.waitReady(workers)
	l := startLoad(t, f, callers, 2*time.Second)
	f.waitFor(20*time.Second, "load to start", func() bool { return l.snapshot().Setup >= callers })

	s := f.killStorm(t, 4*time.Second, 200*time.Millisecond)
	f.waitFor(35*time.Second, "full strength after the storm (one 30 s backoff cap)", func() bool { return f.fullStrength(workers) })
	back := time.Since(s.stopped)
	time.Sleep(2 * time.Second) // calls placed on the healed host
	l.stop()
	f.markStormCuts(l, s)
	c := l.snapshot()
	t.Logf("kill storm: %d kills in 4 s, back at full strength %s after the last; calls %s", s.kills, back.Round(time.Millisecond), c)
	if s.kills < 15 {
		t.Fatalf("only %d kills sent", s.kills)
	}
	if cuts := l.unexplainedCuts(); len(cuts) > 0 {
		t.Errorf("%d call(s) cut on workers the storm did not kill: %v", len(cuts), cuts)
	}
	if c.Completed == 0 {
		t.Errorf("no call completed: %s", c)
	}
	// Every death was a kill from outside after serving or, for a worker
	// killed while it started, a failed start; the log says why for each.
	if n := strings.Count(f.logText(), `"msg":"worker died; restarting"`) + strings.Count(f.logText(), `"msg":"worker died; backing off"`); n < s.kills {
		t.Errorf("%d deaths logged with a restart decision for %d kills", n, s.kills)
	}
	if strings.Contains(f.logText(), `"reason":""`) {
		t.Errorf("a log line has an empty reason")
	}
	if f.metric(`voxfleet_worker_deaths_total{cause="killed",decision="restart now"}`) < 1 {
		t.Errorf("kills not counted in voxfleet_worker_deaths_total")
	}
}
