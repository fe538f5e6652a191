package integration

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voxplatform/vox/fleetapi"
)

// badRelease writes a release that answers `version` (v3.0.0-bad) but cannot
// start: it needs a setting this host's configuration lacks, as a release
// that adds a required setting does.
func badRelease(t *testing.T, dir, good string) string {
	t.Helper()
	bad := filepath.Join(dir, "voxfleet-bad")
	script := `#!/bin/sh
if [ "$1" = version ]; then echo voxfleet v3.0.0-bad; exit 0; fi
if [ "$1" = run ] && [ -z "$VOXFLEET_NEW_SETTING" ]; then
	echo 'voxfleet run: invalid configuration:' >&2
	echo '  $VOXFLEET_NEW_SETTING: required by this release' >&2
	exit 2
fi
exec ` + good + ` "$@"
`
	if err := os.WriteFile(bad, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bad
}

// watchStrength polls /health/fleet until stop is closed and returns the
// fewest serving workers it saw and every worker pid it saw.
func (f *fleet) watchStrength(stop <-chan struct{}) func() (int, map[int]bool) {
	var mu sync.Mutex // guards least and pids
	least, pids := 1<<30, map[int]bool{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			fl, code := f.health()
			mu.Lock()
			if code != 0 { // the daemon answered (it does not while it re-executes)
				least = min(least, fl.Ready)
			}
			for _, w := range fl.Workers {
				pids[w.PID] = true
			}
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() (int, map[int]bool) {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return least, pids
	}
}

// startFromUnit starts the daemon the way deploy/systemd/voxfleet.service
// does — its ExecStart line as shipped, with the release dir and install
// path of this test, the settings in VOXFLEET_* variables as the env file
// gives them — and returns the binary it ran.
func (f *fleet) startFromUnit(t *testing.T, releaseDir, installPath string) {
	t.Helper()
	unit, err := os.ReadFile("../deploy/systemd/voxfleet.service")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ExecStart=/bin/sh -c '(.*)'$`).FindSubmatch(unit)
	if m == nil {
		t.Fatal("deploy/systemd/voxfleet.service: ExecStart is no longer /bin/sh -c '…'; update this test")
	}
	script := strings.ReplaceAll(string(m[1]), "$$", "$")
	script = strings.ReplaceAll(script, "/var/lib/voxfleet/releases", releaseDir)
	script = strings.ReplaceAll(script, "/usr/local/bin/voxfleet", installPath)
	cmd := exec.Command("/bin/sh", "-c", script)
	if f.args[0] != "run" || len(f.args)%2 != 1 {
		t.Fatalf("daemon arguments are not run + flag pairs: %q", f.args)
	}
	for i := 1; i < len(f.args); i += 2 {
		cmd.Env = append(cmd.Env, envName(f.args[i])+"="+f.args[i+1])
	}
	f.startCmd(cmd)
}

func envName(flag string) string {
	return "VOXFLEET_" + strings.ToUpper(strings.ReplaceAll(strings.TrimPrefix(flag, "--"), "-", "_"))
}

// upgradeCLI runs `voxfleet upgrade` from installPath, as ExecReload does.
func (f *fleet) upgradeCLI(t *testing.T, installPath string) (int, string, time.Duration) {
	t.Helper()
	cmd := exec.Command(installPath, "upgrade", "--socket-dir", filepath.Join(f.dir, "s"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), took
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), took
	}
	t.Fatalf("voxfleet upgrade: %v", err)
	return -1, "", 0
}

// TestBadRelease: a release that answers `version` but cannot start is
// refused before the running daemon gives anything up — no worker lost, no
// call cut, the operator told why within seconds with exit 1 — and a
// restart of the unit afterwards runs the last good release. A good release
// then becomes the last good one.
func TestBadRelease(t *testing.T) {
	bins := t.TempDir()
	v1, v2 := buildVersion(t, bins, "v1.0.0"), buildVersion(t, bins, "v2.0.0")
	path := filepath.Join(bins, "voxfleet") // the install path
	rel := filepath.Join(bins, "releases")
	install(t, v1, path)
	f := startFleetWith(t, 3, 0, path, "--install-path", path, "--release-dir", rel)
	f.waitReady(3)
	current := func() string { p, _ := filepath.EvalSymlinks(filepath.Join(rel, "current")); return filepath.Base(p) }
	if !strings.HasPrefix(current(), "voxfleet-v1.0.0-") {
		t.Fatalf("first start: last good release %q, want the running v1.0.0", current())
	}
	before, _ := f.health()
	cl := f.call(t)

	install(t, badRelease(t, bins, v2), path)
	stop := make(chan struct{})
	watched := f.watchStrength(stop)
	code, out, took := f.upgradeCLI(t, path)
	time.Sleep(time.Second) // anything the refused upgrade might still do
	close(stop)
	least, pids := watched()
	t.Logf("voxfleet upgrade to a release that cannot start: rc %d in %s; fewest serving workers %d\n%s", code, took.Round(time.Millisecond), least, out)
	if code != 1 || !strings.Contains(out, "VOXFLEET_NEW_SETTING: required by this release") || !strings.Contains(out, "nothing changed") {
		t.Fatalf("upgrade to a bad release: rc %d\n%s", code, out)
	}
	if took > 15*time.Second {
		t.Errorf("the failure took %s to report", took)
	}
	if least != 3 {
		t.Errorf("serving workers fell to %d during the refused upgrade; want 3 throughout", least)
	}
	after, _ := f.health()
	if after.DaemonPID != before.DaemonPID || after.Version != "v1.0.0" || after.Ready != 3 {
		t.Fatalf("after the refused upgrade: %+v", after)
	}
	for pid := range pids {
		if pid != 0 && !containsPID(before.Workers, pid) {
			t.Errorf("a worker was replaced (pid %d) by a refused upgrade", pid)
		}
	}
	talk(t, cl)
	hangUp(t, cl)
	if !strings.HasPrefix(current(), "voxfleet-v1.0.0-") {
		t.Fatalf("after the refused upgrade the last good release is %q", current())
	}
	if kept, _ := filepath.Glob(filepath.Join(rel, "voxfleet-v3*")); len(kept) > 0 {
		t.Errorf("the refused release is kept: %v", kept)
	}

	restartUnit := func() {
		t.Helper()
		f.cmd.Process.Signal(os.Interrupt)
		<-f.exited
		f.startFromUnit(t, rel, path)
		f.waitReady(3)
	}
	// systemctl restart voxfleet: the unit runs the last good release, not
	// the broken one installed.
	restartUnit()
	if fl, _ := f.health(); fl.Version != "v1.0.0" || fl.DaemonPID != f.cmd.Process.Pid {
		t.Fatalf("restart after the failed upgrade runs %s (pid %d, unit pid %d); want v1.0.0", fl.Version, fl.DaemonPID, f.cmd.Process.Pid)
	}

	// A good release goes through and becomes the last good one.
	install(t, v2, path)
	code, out, _ = f.upgradeCLI(t, path)
	if code != 0 || !strings.Contains(out, "every worker runs v2.0.0") || !strings.Contains(out, "starts with this host's configuration") {
		t.Fatalf("upgrade to v2: rc %d\n%s", code, out)
	}
	f.waitFor(5*time.Second, "v2 recorded as the last good release", func() bool { return strings.HasPrefix(current(), "voxfleet-v2.0.0-") })
	if kept, _ := filepath.Glob(filepath.Join(rel, "voxfleet-*")); len(kept) != 2 {
		t.Errorf("releases kept after the upgrade: %v; want v1 (the one before) and v2", kept)
	}
	restartUnit()
	if fl, _ := f.health(); fl.Version != "v2.0.0" {
		t.Fatalf("restart after the good upgrade runs %s; want v2.0.0", fl.Version)
	}
	for _, w := range func() []fleetapi.FleetWorker { fl, _ := f.health(); return fl.Workers }() {
		if w.Version != "v2.0.0" {
			t.Errorf("worker %d runs %s after the restart", w.Index, w.Version)
		}
	}
}

func containsPID(ws []fleetapi.FleetWorker, pid int) bool {
	for _, w := range ws {
		if w.PID == pid {
			return true
		}
	}
	return false
}
