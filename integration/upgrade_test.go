package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/twilio"
)

// buildVersion builds voxfleet stamped with version into dir.
func buildVersion(t *testing.T, dir, version string) string {
	t.Helper()
	out := filepath.Join(dir, "voxfleet-"+version)
	cmd := exec.Command("go", "build", "-ldflags", "-X github.com/voxplatform/vox/version.Version="+version,
		"-o", out, "github.com/voxplatform/vox/cmd/voxfleet")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", version, err, b)
	}
	return out
}

// install puts src at dst the way a package manager does: a new file renamed
// over the old one, so the running binary is never written to.
func install(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst+".new", b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dst+".new", dst); err != nil {
		t.Fatal(err)
	}
}

// talk checks that a call in progress still echoes.
func talk(t *testing.T, cl *twilio.Client) {
	t.Helper()
	before := cl.Stats().VoicedBytes
	if err := cl.SendAudio(ctxT(t, 5*time.Second), append(twilio.Tone(400*time.Millisecond, 440, 8000), twilio.Silence(800*time.Millisecond)...), 0); err != nil {
		t.Fatalf("call cut: %v", err)
	}
	if _, err := cl.Wait(ctxT(t, 10*time.Second), func(s twilio.Stats) bool { return s.VoicedBytes > before }); err != nil {
		t.Fatalf("call cut: no echo: %v", err)
	}
}

func TestUpgrade(t *testing.T) {
	bins := t.TempDir()
	v1, v2 := buildVersion(t, bins, "v1.0.0"), buildVersion(t, bins, "v2.0.0")
	path := filepath.Join(bins, "voxfleet")
	install(t, v1, path)
	f := startFleetWith(t, 3, 0, path)
	f.waitReady(3)
	before, _ := f.health()
	calls := []*twilio.Client{f.call(t), f.call(t)}

	t.Run("rolls onto the new release, no call cut, same pid", func(t *testing.T) {
		install(t, v2, path)
		out, err := exec.Command(path, "upgrade", "--socket-dir", filepath.Join(f.dir, "s")).CombinedOutput()
		if err != nil {
			t.Fatalf("upgrade: %v\n%s", err, out)
		}
		for _, want := range []string{"version v2.0.0 (running v1.0.0)", "same pid", "canary", "every worker runs v2.0.0"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("upgrade output lacks %q:\n%s", want, out)
			}
		}
		for _, cl := range calls {
			talk(t, cl)
		}
		fl, _ := f.health()
		if fl.DaemonPID != before.DaemonPID || fl.DaemonPID != f.cmd.Process.Pid || fl.Version != "v2.0.0" {
			t.Fatalf("daemon after upgrade: pid %d (was %d), version %s", fl.DaemonPID, before.DaemonPID, fl.Version)
		}
		// The workers in a call stay on v1 until their call ends; every other is v2.
		busyOld := 0
		for _, w := range fl.Workers {
			switch {
			case w.Retired && w.Version == "v1.0.0" && w.CallID != "":
				busyOld++
			case !w.Retired && w.Version != "v2.0.0":
				t.Errorf("worker %d still on %s: %+v", w.Index, w.Version, w)
			}
		}
		if busyOld != 2 {
			t.Errorf("want the 2 old workers finishing their calls, got %d: %+v", busyOld, fl.Workers)
		}
		for _, cl := range calls {
			hangUp(t, cl)
		}
		f.waitFor(10*time.Second, "old workers gone", func() bool {
			fl, _ := f.health()
			return fl.Draining == 0 && fl.Free == 3
		})
	})

	t.Run("a broken release stops at the canary; the old one keeps serving", func(t *testing.T) {
		v3 := buildVersion(t, bins, "v3.0.0")
		broken := filepath.Join(bins, "broken.sh")
		// Runs as the daemon (v3) but every worker it starts dies at once.
		script := "#!/bin/sh\n[ \"$1\" = worker ] && exit 1\nexec " + v3 + " \"$@\"\n"
		if err := os.WriteFile(broken, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		install(t, broken, path)
		cl := f.call(t)
		out, err := exec.Command(v3, "upgrade", "--socket-dir", filepath.Join(f.dir, "s")).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "previous release") {
			t.Fatalf("upgrade to a broken release: %v\n%s", err, out)
		}
		talk(t, cl)
		fl, _ := f.health()
		if fl.Ready != 3 || fl.Rollout == nil || fl.Rollout.Error == "" {
			t.Fatalf("fleet after failed upgrade: %+v", fl)
		}
		for _, w := range fl.Workers {
			if w.Version != "v2.0.0" {
				t.Errorf("worker %d on %s; want every worker still on v2.0.0", w.Index, w.Version)
			}
		}
		// A worker that dies now comes back on the previous release, not the broken one.
		var victim fleetapi.FleetWorker
		for _, w := range fl.Workers {
			if w.CallID == "" {
				victim = w
				break
			}
		}
		if err := killPID(victim.PID); err != nil {
			t.Fatal(err)
		}
		f.waitFor(10*time.Second, "victim back on v2", func() bool {
			fl, _ := f.health()
			for _, w := range fl.Workers {
				if w.Index == victim.Index && w.PID != victim.PID && w.State == fleetapi.SlotReady {
					return w.Version == "v2.0.0"
				}
			}
			return false
		})
		hangUp(t, cl)
	})
}
