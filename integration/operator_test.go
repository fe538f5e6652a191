package integration

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voxplatform/vox/control"
	"github.com/voxplatform/vox/fleetapi"
)

// runCLI runs the fleet's voxfleet binary with args against its socket
// directory and returns stdout, stderr and the exit code.
func (f *fleet) runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(f.bin, append(args, "--socket-dir", filepath.Join(f.dir, "s"))...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func (f *fleet) worker(t *testing.T, index int) fleetapi.FleetWorker {
	t.Helper()
	fl, _ := f.health()
	for _, w := range fl.Workers {
		if w.Index == index && !w.Retired {
			return w
		}
	}
	t.Fatalf("no worker %d in %+v", index, fl.Workers)
	return fleetapi.FleetWorker{}
}

// TestOperatorCLI drives the CLI as an operator would, with a call in
// progress through nginx.
func TestOperatorCLI(t *testing.T) {
	f := startFleet(t, 3, 0)
	f.waitReady(3)
	cl := f.call(t)
	var busy fleetapi.FleetWorker
	f.waitFor(5*time.Second, "a busy worker", func() bool {
		fl, _ := f.health()
		for _, w := range fl.Workers {
			if w.State == fleetapi.SlotBusy {
				busy = w
				return true
			}
		}
		return false
	})
	var idle []int
	for i := 1; i <= 3; i++ {
		if i != busy.Index {
			idle = append(idle, i)
		}
	}

	// status: the call and its age.
	out, _, code := f.runCLI(t, "status")
	if code != 0 || !regexp.MustCompile(regexp.QuoteMeta(busy.CallID)+` \(\d+s\)`).MatchString(out) {
		t.Errorf("status (exit %d) does not show the call and its age:\n%s", code, out)
	}

	// scale 0 with a call in progress asks for --yes and changes nothing.
	out, errOut, code := f.runCLI(t, "scale", "0")
	if code != 2 || !strings.Contains(errOut, "1 call(s) in progress") || !strings.Contains(errOut, "--yes") {
		t.Errorf("scale 0 with a call: exit %d\n%s%s", code, out, errOut)
	}
	if fl, _ := f.health(); fl.Desired != 3 {
		t.Fatalf("scale 0 without --yes changed the desired count to %d", fl.Desired)
	}

	// upgrade to the version already running is refused without --force.
	out, errOut, code = f.runCLI(t, "upgrade")
	if code != 2 || !strings.Contains(errOut, "already runs") || !strings.Contains(errOut, "--force") {
		t.Errorf("upgrade to the same version: exit %d\n%s%s", code, out, errOut)
	}

	// drain takes several indices; a stopped worker's uptime is '-'.
	out, errOut, code = f.runCLI(t, "drain", itoaa(idle[0]), itoaa(idle[1]))
	if code != 0 || strings.Count(out, "drains: no new calls") != 2 {
		t.Fatalf("drain %v: exit %d\n%s%s", idle, code, out, errOut)
	}
	f.waitFor(10*time.Second, "both idle workers stopped", func() bool {
		return f.worker(t, idle[0]).State == fleetapi.SlotStopped && f.worker(t, idle[1]).State == fleetapi.SlotStopped
	})
	out, _, _ = f.runCLI(t, "status")
	for _, i := range idle {
		line := regexp.MustCompile(`(?m)^` + itoaa(i) + `\s+-\s+stopped\s+-\s+\d+\s+\d+\s+-\s`)
		if !line.MatchString(out) {
			t.Errorf("status line of stopped worker %d lacks '-' for pid and uptime:\n%s", i, out)
		}
	}
	if _, _, code := f.runCLI(t, "drain", "1", "99"); code != 1 && code != 2 {
		t.Errorf("drain of a missing worker: exit %d", code)
	}
	if _, _, code := f.runCLI(t, "restart", itoaa(idle[0]), itoaa(idle[1])); code != 0 {
		t.Fatalf("restart %v: exit %d", idle, code)
	}

	// scale waits for the new count and reports its progress.
	out, errOut, code = f.runCLI(t, "scale", "4")
	if code != 0 || !strings.Contains(out, "serving 4 of 4") {
		t.Fatalf("scale 4: exit %d\n%s%s", code, out, errOut)
	}
	if fl, _ := f.health(); fl.Ready != 4 {
		t.Fatalf("scale 4 returned with %d ready workers", fl.Ready)
	}
	out, _, code = f.runCLI(t, "scale", "3", "--no-wait")
	if code != 0 || strings.Contains(out, "serving") {
		t.Fatalf("scale 3 --no-wait: exit %d\n%s", code, out)
	}
	f.waitFor(10*time.Second, "3 workers", func() bool { fl, _ := f.health(); return fl.Ready == 3 })

	// CALLS and RESTARTS of an index survive the replacement of its worker.
	hangUp(t, cl)
	f.waitFor(5*time.Second, "the call counted", func() bool { return f.worker(t, busy.Index).Calls == 1 })
	if err := killPID(busy.PID); err != nil {
		t.Fatal(err)
	}
	f.waitFor(10*time.Second, "the killed worker replaced", func() bool {
		w := f.worker(t, busy.Index)
		return w.PID != busy.PID && w.State == fleetapi.SlotReady
	})
	if _, _, code := f.runCLI(t, "restart", itoaa(busy.Index)); code != 0 {
		t.Fatalf("restart %d: exit %d", busy.Index, code)
	}
	out, _, _ = f.runCLI(t, "status", "--json")
	var fl fleetapi.Fleet
	if err := json.Unmarshal([]byte(out), &fl); err != nil {
		t.Fatal(err)
	}
	for _, w := range fl.Workers {
		if w.Index == busy.Index && !w.Retired && (w.Calls != 1 || w.Restarts != 1) {
			t.Errorf("worker %d after a crash and a restart: calls %d, restarts %d; want 1 and 1", w.Index, w.Calls, w.Restarts)
		}
	}

	// status --watch redraws until interrupted.
	watch := exec.Command(f.bin, "status", "--watch", "--interval", "100ms", "--socket-dir", filepath.Join(f.dir, "s"))
	wout, err := os.Create(filepath.Join(t.TempDir(), "watch.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer wout.Close()
	watch.Stdout = wout
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	f.waitFor(10*time.Second, "three frames", func() bool {
		b, _ := os.ReadFile(wout.Name())
		return strings.Count(string(b), "INDEX") >= 3
	})
	watch.Process.Signal(syscall.SIGINT)
	if err := watch.Wait(); err != nil {
		t.Errorf("status --watch after Ctrl-C: %v", err)
	}
}

// TestBadStateFileRealBinary: the daemon, run as systemd would, on an
// unusable state file starts with --workers instead of exiting, and keeps
// the bad file aside. Without --state-file, a --socket-dir of its own keeps
// the state file there.
func TestBadStateFileRealBinary(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "s")
	os.MkdirAll(sock, 0o755)
	state := filepath.Join(sock, "state.json")
	if err := os.WriteFile(state, []byte(`{"desired":`), 0o644); err != nil {
		t.Fatal(err)
	}
	listen := freeAddr(t)
	cmd := exec.Command(voxfleetBin, "run", "--workers", "2", "--socket-dir", sock, "--listen", listen,
		"--upstream-file", filepath.Join(dir, "upstream.conf"), "--log-format", "json")
	cmd.Env = append(os.Environ(), "VOX_SERVICE_SECRET="+secret, "VOXFLEET_FLEET_ID="+fleetID)
	logFile, err := os.Create(filepath.Join(dir, "voxfleet.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stderr = logFile
	logText := func() string { b, _ := os.ReadFile(logFile.Name()); return string(b) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
		}
	})
	ctl := control.NewClient(sock)
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("the daemon exited on a corrupt state file: %v\n%s", err, logText())
		default:
		}
		fl, err := ctl.Status(ctxT(t, time.Second))
		if err == nil && fl.Ready == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 2 ready workers: %+v %v", fl, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	bad, _ := filepath.Glob(state + ".bad-*")
	if len(bad) != 1 {
		t.Fatalf("bad state file not moved aside: %v", bad)
	}
	if b, _ := os.ReadFile(state); !strings.Contains(string(b), `"desired":2`) {
		t.Fatalf("new state file: %q", b)
	}
	if !strings.Contains(logText(), "state file unusable; moved aside") {
		t.Errorf("the log does not report the bad state file:\n%s", logText())
	}
}
