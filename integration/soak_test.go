package integration

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voxplatform/vox/fleetapi"
)

// soakSeconds is how long each scenario keeps its load after its operation:
// short in `make test`, VOX_SOAK_SECONDS (e.g. 60) in `make soak`.
func soakSeconds() time.Duration {
	if v, err := strconv.Atoi(os.Getenv("VOX_SOAK_SECONDS")); err == nil && v > 0 {
		return time.Duration(v) * time.Second
	}
	return 2 * time.Second
}

// metric reads one un-labelled series from the daemon's /metrics through nginx.
func (f *fleet) metric(name string) float64 {
	resp, err := http.Get(f.nginx.URL("/metrics"))
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			x, _ := strconv.ParseFloat(v, 64)
			return x
		}
	}
	return -1
}

func (f *fleet) voxfleet(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(f.bin, append(args, "--socket-dir", filepath.Join(f.dir, "s"))...).CombinedOutput()
	if err != nil {
		t.Fatalf("voxfleet %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// worker returns the first worker in state (and with or without a call).
func (f *fleet) pick(t *testing.T, busy bool) fleetapi.FleetWorker {
	t.Helper()
	var got fleetapi.FleetWorker
	f.waitFor(10*time.Second, fmt.Sprintf("a worker with busy=%v", busy), func() bool {
		fl, _ := f.health()
		for _, w := range fl.Workers {
			if !w.Retired && ((busy && w.State == fleetapi.SlotBusy && w.CallID != "") || (!busy && w.State == fleetapi.SlotReady)) {
				got = w
				return true
			}
		}
		return false
	})
	return got
}

func (f *fleet) waitReplaced(w fleetapi.FleetWorker) {
	// Up to the hung grace of a worker in a call (30 s), then a restart.
	f.waitFor(75*time.Second, fmt.Sprintf("worker %d replaced", w.Index), func() bool {
		fl, _ := f.health()
		for _, x := range fl.Workers {
			if x.Index == w.Index && !x.Retired && x.PID != w.PID && (x.State == fleetapi.SlotReady || x.State == fleetapi.SlotBusy) {
				return true
			}
		}
		return false
	})
}

// TestSoak drives every operation an operator performs on a busy fleet host
// under steady load through a real nginx and counts what callers saw. Only a
// call on a worker the suite kills itself may be cut; refusals are allowed
// only while the daemon itself is down.
func TestSoak(t *testing.T) {
	const workers, callers = 6, 3
	soak := soakSeconds()
	callLength := min(soak*3/4, 8*time.Second)
	bins := t.TempDir()
	v1, v2 := buildVersion(t, bins, "v1.0.0"), buildVersion(t, bins, "v2.0.0")
	path := filepath.Join(bins, "voxfleet")
	install(t, v1, path)
	f := startFleetWith(t, workers, 0, path, "--stop-mode", "handoff", "--recycle-after-calls", "3")
	f.waitReady(workers)

	type row struct {
		name              string
		c                 counts
		reloads, recycled float64 // -1: the daemon's counters restarted in the scenario
		took              time.Duration
		note              string
	}
	var rows []row
	scenarios := []struct {
		name         string
		allowRefused bool
		op           func(t *testing.T, l *load) string
	}{
		{"steady load", false, func(t *testing.T, l *load) string { return "" }},
		{"rolling restart", false, func(t *testing.T, l *load) string {
			out := f.voxfleet(t, "restart", "--rolling")
			return lastLine(out)
		}},
		{"scale 6 → 4 → 6", false, func(t *testing.T, l *load) string {
			f.voxfleet(t, "scale", "4")
			f.waitFor(30*time.Second, "4 workers", func() bool { fl, _ := f.health(); return fl.Ready == 4 && f.upstreamServers() == 4 })
			f.voxfleet(t, "scale", "6")
			f.waitReady(workers)
			return ""
		}},
		{"upgrade v1 → v2", false, func(t *testing.T, l *load) string {
			install(t, v2, path)
			out := f.voxfleet(t, "upgrade")
			if fl, _ := f.health(); fl.Version != "v2.0.0" || fl.DaemonPID != f.cmd.Process.Pid {
				t.Errorf("after upgrade: version %s, daemon pid %d (process %d)", fl.Version, fl.DaemonPID, f.cmd.Process.Pid)
			}
			return lastLine(out)
		}},
		{"bad release (cannot start)", false, func(t *testing.T, l *load) string {
			install(t, badRelease(t, bins, v2), path)
			defer install(t, v2, path) // the release an operator puts back
			stop := make(chan struct{})
			watched := f.watchStrength(stop)
			code, out, took := f.upgradeCLI(t, path)
			close(stop)
			least, _ := watched()
			if code != 1 || !strings.Contains(out, "refused") {
				t.Errorf("upgrade to a release that cannot start: rc %d\n%s", code, out)
			}
			if least != workers {
				t.Errorf("serving workers fell to %d during the refused upgrade", least)
			}
			return fmt.Sprintf("refused in %s, rc %d; fewest serving workers %d of %d", took.Round(time.Millisecond), code, least, workers)
		}},
		{"idle worker hangs (SIGSTOP)", false, func(t *testing.T, l *load) string {
			w := f.pick(t, false)
			syscall.Kill(w.PID, syscall.SIGSTOP)
			// A call may have reached it between the pick and the stop: the
			// suite cut that one, and the daemon gives a hung worker in a
			// call its grace (30 s) before replacing it.
			fl, _ := f.health()
			for _, x := range fl.Workers {
				if x.PID == w.PID && x.CallID != "" {
					l.markKilled(x.CallID)
				}
			}
			f.waitReplaced(w)
			syscall.Kill(w.PID, syscall.SIGKILL)
			return fmt.Sprintf("worker %d (pid %d) replaced", w.Index, w.PID)
		}},
		{"kill -9 of a busy worker", false, func(t *testing.T, l *load) string {
			w := f.pick(t, true)
			l.markKilled(w.CallID)
			syscall.Kill(w.PID, syscall.SIGKILL)
			f.waitReplaced(w)
			return fmt.Sprintf("worker %d (pid %d) back", w.Index, w.PID)
		}},
		{"kill storm", true, func(t *testing.T, l *load) string {
			s := f.killStorm(t, soak, 200*time.Millisecond)
			f.waitFor(35*time.Second, "full strength after the storm (one 30 s backoff cap)", func() bool { return f.fullStrength(workers) })
			back := time.Since(s.stopped)
			f.markStormCuts(l, s)
			return fmt.Sprintf("%d kills every 200 ms for %s; full strength %s after the last", s.kills, soak, back.Round(time.Millisecond))
		}},
		{"daemon restart (SIGTERM, handoff)", true, func(t *testing.T, l *load) string {
			f.cmd.Process.Signal(syscall.SIGTERM)
			<-f.exited
			f.startDaemon()
			f.waitReady(workers)
			return "next daemon took every index back"
		}},
		{"daemon kill -9", true, func(t *testing.T, l *load) string {
			f.cmd.Process.Kill()
			<-f.exited
			f.startDaemon()
			f.waitReady(workers)
			return "next daemon took every index back"
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			l := startLoad(t, f, callers, callLength)
			f.waitFor(20*time.Second, "load to start", func() bool { return l.snapshot().Setup >= callers })
			const recycles = `voxfleet_worker_recycles_total{reason="calls"}`
			reloads, recycled := f.metric("voxfleet_nginx_reloads_total"), f.metric(recycles)
			pid := f.cmd.Process.Pid
			start := time.Now()
			note := sc.op(t, l)
			took := time.Since(start)
			time.Sleep(soak)
			c := l.stop()
			delta := func(before, after float64) float64 {
				if fl, _ := f.health(); fl.Version != "v1.0.0" && sc.name == "upgrade v1 → v2" || f.cmd.Process.Pid != pid || before < 0 {
					return -1 // re-executed or restarted: its counters started again
				}
				return after - before
			}
			rows = append(rows, row{sc.name, c, delta(reloads, f.metric("voxfleet_nginx_reloads_total")),
				delta(recycled, f.metric(recycles)), took, note})
			if c.Cut != 0 {
				t.Errorf("%s: %d call(s) cut: %v", sc.name, c.Cut, l.unexplainedCuts())
			}
			if !sc.allowRefused && (c.Refused != 0 || c.AttachRefused != 0) {
				t.Errorf("%s: refused %d call(s) and %d attach(es) with free capacity", sc.name, c.Refused, c.AttachRefused)
			}
			if c.Completed == 0 {
				t.Errorf("%s: no call completed: %s", sc.name, c)
			}
		})
	}
	var b strings.Builder
	recycledAll := 0.0
	fmt.Fprintf(&b, "\nsoak: %d workers, %d long calls (%s each) + /attach every 100 ms, %s of load after each operation\n\n", workers, callers, callLength, soak)
	fmt.Fprintf(&b, "| scenario | set up | refused | completed | cut | cut on killed worker | attach served/refused | nginx reloads | recycled | operation took | note |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	na := func(v float64) string {
		if v < 0 {
			return "n/a¹"
		}
		return fmt.Sprint(v)
	}
	for _, r := range rows {
		recycledAll += max(r.recycled, 0)
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d/%d | %s | %s | %s | %s |\n", r.name, r.c.Setup, r.c.Refused, r.c.Completed,
			r.c.Cut, r.c.CutByKill, r.c.AttachServed, r.c.AttachRefused, na(r.reloads), na(r.recycled), r.took.Round(time.Millisecond), r.note)
	}
	fmt.Fprintf(&b, "\n¹ the daemon re-executed or restarted during the scenario, and its counters with it.\n")
	fmt.Fprintf(&b, "Workers are recycled after 3 calls throughout (--recycle-after-calls 3).\n")
	if recycledAll == 0 && soak >= 2*time.Second && len(rows) == len(scenarios) {
		t.Errorf("no worker was recycled after 3 calls during the soak")
	}
	t.Log(b.String())
	if os.Getenv("VOX_SOAK_REPORT") != "" {
		os.WriteFile(os.Getenv("VOX_SOAK_REPORT"), []byte(b.String()), 0o644)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(lines[len(lines)-1], "done"), " "))
}
