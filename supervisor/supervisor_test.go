package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voxplatform/vox/control"
	"github.com/voxplatform/vox/fleetapi"
)

func TestStartServeAndStop(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir, 3)
	asRoot := os.Geteuid() == 0
	if asRoot {
		cfg.SocketGroup = "nogroup" // nginx's group in production; any group but root's shows the chown
	}
	h := startDaemon(t, cfg)
	f := h.waitReady(3)
	if f.Status != fleetapi.FleetOK || f.Desired != 3 || f.Free != 3 || f.Busy != 0 {
		t.Fatalf("fleet = %+v", f)
	}
	want := []string{workerPath(dir, 1), workerPath(dir, 2), workerPath(dir, 3)}
	if got := h.up.last(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("upstream set = %v, want %v", got, want)
	}
	for _, p := range append(want, dir) {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if p != dir && (st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o660) {
			t.Fatalf("%s: mode %v", p, st.Mode())
		}
		if gid := st.Sys().(*syscall.Stat_t).Gid; asRoot && gid != 65534 {
			t.Fatalf("%s: group %d, want nogroup (65534)", p, gid)
		}
	}
	st, err := os.Stat(filepath.Join(dir, control.SocketName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("control socket mode: %v %v", st, err)
	}
	// A second daemon on the same directory refuses to start.
	cfg2 := testConfig(t, dir, 1)
	s2, _ := New(cfg2, h.s.log, nil, &recUpstream{}, "test")
	if err := s2.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "another voxfleet daemon") {
		t.Fatalf("second daemon: %v", err)
	}

	// A call in progress when SIGTERM arrives finishes; then nothing is left.
	call := placeCall(workerPath(dir, 2), "c-stop", 700*time.Millisecond)
	waitFor(t, 5*time.Second, "call to start", func() bool { f, _ := h.fleet(); return f.Busy == 1 })
	pids := []int{}
	f, _ = h.fleet()
	for _, w := range f.Workers {
		pids = append(pids, w.PID)
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	if r := <-call; r.err != nil || r.status != 200 || !strings.Contains(r.body, "completed c-stop") {
		t.Fatalf("call during stop: %+v", r)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("worker pid %d still alive after stop", pid)
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*.sock"))
	if len(left) != 0 {
		t.Fatalf("sockets left behind: %v", left)
	}
}

func TestKilledWorkerComesBackOnSameSocket(t *testing.T) {
	dir := t.TempDir()
	h := startDaemon(t, testConfig(t, dir, 2))
	f := h.waitReady(2)
	old := h.worker(f, 1)
	sets := h.up.count()
	if err := syscall.Kill(old.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// A request sent right away waits in the kept listener's backlog and is
	// answered by the replacement.
	if _, err := fleetapi.Socket(workerPath(dir, 1)).Health(context.Background()); err != nil {
		t.Fatalf("request after kill -9: %v", err)
	}
	waitFor(t, 5*time.Second, "worker 1 back", func() bool {
		f, _ = h.fleet()
		w := h.worker(f, 1)
		return w.State == fleetapi.SlotReady && w.PID != old.PID && w.Restarts == 1
	})
	if h.up.count() != sets {
		t.Fatalf("upstream republished %d times for a quick restart; want no change", h.up.count()-sets)
	}
	body := scrape(t, h)
	if !strings.Contains(body, "voxfleet_worker_restarts_total 1") {
		t.Fatalf("restart not counted:\n%s", grep(body, "restarts"))
	}
}

func TestCrashLoopBacksOffThenFails(t *testing.T) {
	t.Setenv("FAKE_MODE", "crash")
	cfg := testConfig(t, t.TempDir(), 1)
	cfg.Restart.Initial = 20 * time.Millisecond
	cfg.Restart.FailAfter = 4
	h := startDaemon(t, cfg)
	waitFor(t, 10*time.Second, "worker 1 failed", func() bool {
		f, _ := h.fleet()
		return f.Failed == 1
	})
	f, code := h.fleet()
	if code != http.StatusServiceUnavailable || f.Status != fleetapi.FleetDown {
		t.Fatalf("all failed: status %d %+v", code, f)
	}
	if w := f.Workers[0]; w.Restarts != 4 || !strings.Contains(w.Reason, "quick deaths") {
		t.Fatalf("failed worker = %+v", w)
	}
	if _, err := os.Stat(workerPath(cfg.SocketDir, 1)); !os.IsNotExist(err) {
		t.Fatalf("failed slot's socket still present: %v", err)
	}
	// The operator fixes the cause and restarts the slot.
	t.Setenv("FAKE_MODE", "")
	err := h.ctl.Restart(context.Background(), control.RestartRequest{Indices: []int{1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.waitReady(1)
}

func TestScaleRetiresIdleFirstAndPersists(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir, 4)
	h := startDaemon(t, cfg)
	h.waitReady(4)
	// Worker 4 (the highest index, first to go if all were idle) is in a call.
	call := placeCall(workerPath(dir, 4), "c-scale", 800*time.Millisecond)
	waitFor(t, 5*time.Second, "call on 4", func() bool { f, _ := h.fleet(); return f.Busy == 1 })

	resp, err := h.ctl.Scale(context.Background(), 2)
	if err != nil || resp.Previous != 4 || resp.Desired != 2 {
		t.Fatalf("scale: %+v %v", resp, err)
	}
	waitFor(t, 5*time.Second, "idle workers 2 and 3 retired", func() bool {
		set := h.up.last()
		return len(set) == 2 && set[0] == workerPath(dir, 1) && set[1] == workerPath(dir, 4)
	})
	if r := <-call; r.err != nil || r.status != 200 {
		t.Fatalf("busy worker's call was cut by scale-down: %+v", r)
	}
	if b, _ := os.ReadFile(cfg.StateFile); !strings.Contains(string(b), `"desired":2`) {
		t.Fatalf("state file: %s", b)
	}
	// Bad input is refused with a clear error and changes nothing.
	if _, err := h.ctl.Scale(context.Background(), -1); err == nil || !strings.Contains(err.Error(), "between 0 and") {
		t.Fatalf("scale -1: %v", err)
	}
	// The desired count survives a daemon restart, whatever --workers says.
	h.stop()
	cfg.Listen = freeAddr(t)
	h2 := startDaemon(t, cfg)
	f := h2.waitReady(2)
	if f.Desired != 2 {
		t.Fatalf("desired after restart = %d", f.Desired)
	}
	// Scale up fills the lowest free indices.
	if _, err := h2.ctl.Scale(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	h2.waitReady(3)
}

func TestRestartKeepsCallsAndSockets(t *testing.T) {
	for _, rolling := range []bool{false, true} {
		t.Run(map[bool]string{false: "all at once", true: "rolling"}[rolling], func(t *testing.T) {
			dir := t.TempDir()
			h := startDaemon(t, testConfig(t, dir, 3))
			f := h.waitReady(3)
			before := map[int]int{}
			for _, w := range f.Workers {
				before[w.Index] = w.PID
			}
			sets := h.up.count()
			call := placeCall(workerPath(dir, 2), "c-roll", 1500*time.Millisecond)
			waitFor(t, 5*time.Second, "call on 2", func() bool { f, _ := h.fleet(); return f.Busy == 1 })

			var steps []string
			err := h.ctl.Restart(context.Background(), control.RestartRequest{Rolling: rolling}, func(p control.Progress) {
				steps = append(steps, p.Step)
			})
			if err != nil {
				t.Fatalf("restart: %v (%v)", err, steps)
			}
			f, _ = h.fleet()
			for i, old := range before {
				if w := h.worker(f, i); w.PID == old || w.State != fleetapi.SlotReady {
					t.Errorf("worker %d not replaced: %+v", i, w)
				}
			}
			// The replaced worker finishes its call; a new call lands on the new worker.
			// Idle old workers exit at once; the busy one drains in its call.
			waitFor(t, 5*time.Second, "only the old busy worker left draining", func() bool {
				f, _ = h.fleet()
				return f.Draining == 1 && f.Free == 3
			})
			if r := <-call; r.err != nil || r.status != 200 || !strings.Contains(r.body, "completed c-roll") {
				t.Fatalf("call cut by restart: %+v", r)
			}
			if h.up.count() != sets {
				t.Fatalf("nginx upstream republished during restart")
			}
			if got := strings.Count(strings.Join(steps, " "), "replaced"); got != 3 {
				t.Fatalf("progress steps %v", steps)
			}
		})
	}
}

func TestDrainAndRestartOne(t *testing.T) {
	dir := t.TempDir()
	h := startDaemon(t, testConfig(t, dir, 2))
	h.waitReady(2)
	if err := h.ctl.Drain(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "worker 2 stopped", func() bool {
		f, _ := h.fleet()
		return h.worker(f, 2).State == fleetapi.SlotStopped && len(h.up.last()) == 1
	})
	if err := h.ctl.Drain(context.Background(), 9); err == nil || !strings.Contains(err.Error(), "no worker 9") {
		t.Fatalf("drain 9: %v", err)
	}
	if err := h.ctl.Restart(context.Background(), control.RestartRequest{Indices: []int{2}}, nil); err != nil {
		t.Fatal(err)
	}
	h.waitReady(2)
}

func TestStaleAndHeldSockets(t *testing.T) {
	dir := t.TempDir()
	// A stale file from a dead process is removed and rebound.
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: workerPath(dir, 1), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()
	// A live process on index 2 (a worker of an earlier daemon) is waited for.
	held, err := net.Listen("unix", workerPath(dir, 2))
	if err != nil {
		t.Fatal(err)
	}
	go http.Serve(held, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(fleetapi.Health{State: fleetapi.WorkerDraining, CallID: "old-call", PID: 4242})
	}))
	h := startDaemon(t, testConfig(t, dir, 2))
	waitFor(t, 5*time.Second, "worker 1 ready and 2 held", func() bool {
		f, _ := h.fleet()
		return f.Ready == 1 && h.worker(f, 2).State == fleetapi.SlotHeld && h.worker(f, 2).CallID == "old-call"
	})
	held.Close()
	h.waitReady(2)
}

func TestHungWorkerIsReplaced(t *testing.T) {
	t.Setenv("FAKE_MODE", "hang")
	h := startDaemon(t, testConfig(t, t.TempDir(), 1))
	f := h.waitReady(1)
	first := f.Workers[0].PID
	// While it hangs, /health/fleet still answers and says so.
	waitFor(t, 10*time.Second, "hung worker reported", func() bool {
		f, code := h.fleet()
		return code != 0 && len(f.Workers) == 1 && f.Workers[0].Reason == "not answering /health"
	})
	waitFor(t, 10*time.Second, "hung worker replaced", func() bool {
		f, _ := h.fleet()
		return len(f.Workers) == 1 && f.Workers[0].PID != first && f.Workers[0].PID != 0
	})
	if !strings.Contains(scrape(t, h), "voxfleet_worker_hung_total 1") {
		t.Fatal("hung worker not counted")
	}
}

func TestConfigNamesEveryBadSetting(t *testing.T) {
	err := Config{Workers: -1, SocketDir: "relative", Listen: "nope", NginxReload: "nginx -s reload",
		WorkerBinary: "/nonexistent"}.WithDefaults().Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, flag := range []string{"--workers", "--socket-dir", "--state-file", "--listen", "--upstream-file", "--nginx-test", "--worker-binary"} {
		if !strings.Contains(err.Error(), flag) {
			t.Errorf("error does not name %s:\n%v", flag, err)
		}
	}
}

func scrape(t *testing.T, h *harness) string {
	t.Helper()
	resp, err := http.Get(h.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestHandoffStopLeavesCallsToFinish(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir, 2)
	cfg.StopMode = StopHandoff
	h := startDaemon(t, cfg)
	f := h.waitReady(2)
	busy := h.worker(f, 1)
	call := placeCall(workerPath(dir, 1), "c-handoff", 2*time.Second)
	waitFor(t, 5*time.Second, "call on 1", func() bool { f, _ := h.fleet(); return f.Busy == 1 })
	idle := h.worker(f, 2)

	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	// The daemon is gone before the call ends; the idle worker went with it.
	select {
	case r := <-call:
		t.Fatalf("call ended before the daemon's handoff finished: %+v", r)
	default:
	}
	waitFor(t, 5*time.Second, "idle worker gone", func() bool { return syscall.Kill(idle.PID, 0) != nil })
	if syscall.Kill(busy.PID, 0) != nil {
		t.Fatal("busy worker died with the daemon")
	}

	// The next daemon holds index 1 until the call ends, then takes it back.
	cfg.Listen = freeAddr(t)
	h2 := startDaemon(t, cfg)
	waitFor(t, 5*time.Second, "index 1 held", func() bool {
		f, _ := h2.fleet()
		return len(f.Workers) == 2 && h2.worker(f, 1).State == fleetapi.SlotHeld
	})
	if r := <-call; r.err != nil || r.status != 200 || !strings.Contains(r.body, "completed c-handoff") {
		t.Fatalf("call across the daemon's restart: %+v", r)
	}
	f = h2.waitReady(2)
	if w := h2.worker(f, 1); w.PID == busy.PID {
		t.Fatalf("index 1 still on the old worker: %+v", w)
	}
}

func TestRecycleAfterCalls(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir, 1)
	cfg.RecycleCalls = 2
	h := startDaemon(t, cfg)
	first := h.waitReady(1).Workers[0].PID
	for i := range 2 {
		if r := <-placeCall(workerPath(dir, 1), fmt.Sprintf("c%d", i), 10*time.Millisecond); r.status != 200 {
			t.Fatalf("call %d: %+v", i, r)
		}
	}
	waitFor(t, 5*time.Second, "worker recycled", func() bool {
		f, _ := h.fleet()
		return len(f.Workers) == 1 && f.Workers[0].PID != first && f.Workers[0].State == fleetapi.SlotReady &&
			f.Workers[0].Restarts == 0
	})
	if !strings.Contains(scrape(t, h), `voxfleet_worker_recycles_total{reason="calls"} 1`) {
		t.Fatal("recycle not counted")
	}
}

func TestHandoffBecomesDrainWhenHostStops(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir, 1)
	cfg.StopMode = StopHandoff
	cfg.HostStopping = func() bool { return true }
	h := startDaemon(t, cfg)
	w := h.waitReady(1).Workers[0]
	call := placeCall(workerPath(dir, 1), "c-shutdown", 700*time.Millisecond)
	waitFor(t, 5*time.Second, "call", func() bool { f, _ := h.fleet(); return f.Busy == 1 })
	h.stop()
	// Draining, the daemon returns only once its last worker has exited,
	// which the busy one does after its call.
	if syscall.Kill(w.PID, 0) == nil {
		t.Fatal("daemon exited before its busy worker although the host is shutting down")
	}
	if r := <-call; r.status != 200 || !strings.Contains(r.body, "completed c-shutdown") {
		t.Fatalf("call: %+v", r)
	}
}

func TestRecycleAboveMemory(t *testing.T) {
	cfg := testConfig(t, t.TempDir(), 1)
	cfg.RecycleRSS = 1 // every worker is above it: the first probe recycles it
	h := startDaemon(t, cfg)
	first := h.waitReady(1).Workers[0].PID
	waitFor(t, 10*time.Second, "worker recycled for memory", func() bool {
		f, _ := h.fleet()
		return len(f.Workers) >= 1 && f.Workers[0].PID != first && f.Workers[0].Restarts == 0 &&
			strings.Contains(scrape(t, h), `voxfleet_worker_recycles_total{reason="memory"}`) &&
			!strings.Contains(scrape(t, h), `voxfleet_worker_recycles_total{reason="memory"} 0`)
	})
}

func TestRefusedRestartSaysWhy(t *testing.T) {
	h := startDaemon(t, testConfig(t, t.TempDir(), 1))
	h.waitReady(1)
	var re *fleetapi.Error
	err := h.ctl.Restart(context.Background(), control.RestartRequest{Indices: []int{42}}, nil)
	if !errors.As(err, &re) || re.Status != http.StatusNotFound || re.Message != "no worker 42" {
		t.Fatalf("restart 42: %v", err)
	}
	// A rollout under way (a restart or an upgrade's roll) refuses another.
	if err := h.s.call(context.Background(), func() { h.s.roll = newRollout(nil, false) }); err != nil {
		t.Fatal(err)
	}
	err = h.ctl.Restart(context.Background(), control.RestartRequest{}, nil)
	if !errors.As(err, &re) || re.Status != http.StatusConflict || !strings.Contains(re.Message, "in progress") {
		t.Fatalf("restart during a rollout: %v", err)
	}
	if err := h.s.call(context.Background(), func() { h.s.roll = nil; h.s.upgrading = true }); err != nil {
		t.Fatal(err)
	}
	// So does an upgrade checking its new release.
	err = h.ctl.Restart(context.Background(), control.RestartRequest{}, nil)
	if !errors.As(err, &re) || re.Status != http.StatusConflict || !strings.Contains(re.Message, "upgrade") {
		t.Fatalf("restart during an upgrade: %v", err)
	}
	if err := h.s.call(context.Background(), func() { h.s.upgrading = false }); err != nil {
		t.Fatal(err)
	}
}

func TestFailedSlotIsRetriedAtTheCap(t *testing.T) {
	t.Setenv("FAKE_MODE", "crash")
	cfg := testConfig(t, t.TempDir(), 1)
	cfg.Restart.Initial = 20 * time.Millisecond
	cfg.Restart.Max = 500 * time.Millisecond
	cfg.Restart.FailAfter = 3
	h := startDaemon(t, cfg)
	waitFor(t, 10*time.Second, "worker 1 failed", func() bool { f, _ := h.fleet(); return f.Failed == 1 })
	if w := h.worker(func() fleetapi.Fleet { f, _ := h.fleet(); return f }(), 1); !strings.Contains(w.Reason, "before it was ready") ||
		!strings.Contains(w.Reason, "exit 3") || !strings.Contains(w.Reason, "retrying every 500ms") {
		t.Fatalf("failed worker's reason: %+v", w)
	}
	body := scrape(t, h)
	if !strings.Contains(body, `voxfleet_worker_deaths_total{cause="start_failed",decision="failed"}`) {
		t.Fatalf("failed slot not counted:\n%s", grep(body, "deaths"))
	}
	// The cause goes away (a setting fixed, a disk freed): the next retry
	// at the cap brings the slot back with no operator.
	t.Setenv("FAKE_MODE", "")
	h.waitReady(1)
	if f, _ := h.fleet(); f.Failed != 0 || f.Status != fleetapi.FleetOK {
		t.Fatalf("after the retry: %+v", f)
	}
}

func TestKillsFromOutsideNeverFailASlot(t *testing.T) {
	cfg := testConfig(t, t.TempDir(), 2)
	cfg.Restart.FailAfter = 2
	h := startDaemon(t, cfg)
	h.waitReady(2)
	for i := range 8 {
		f := h.waitReady(2)
		w := h.worker(f, 1+i%2)
		if err := syscall.Kill(w.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "worker replaced", func() bool {
			f, _ := h.fleet()
			if f.Failed != 0 {
				t.Fatalf("a slot failed after kill %d: %+v", i+1, f)
			}
			x := h.worker(f, w.Index)
			return x.PID != w.PID && x.State == fleetapi.SlotReady
		})
	}
	body := scrape(t, h)
	if !strings.Contains(body, `voxfleet_worker_deaths_total{cause="killed",decision="restart now"} 8`) {
		t.Fatalf("kills not counted as such:\n%s", grep(body, "deaths"))
	}
}
