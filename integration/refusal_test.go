package integration

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cli runs the real voxfleet CLI against f's daemon and returns its exit
// code, stdout and stderr.
func (f *fleet) cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(voxfleetBin, append(args, "--socket-dir", filepath.Join(f.dir, "s"))...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errb.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), errb.String()
	}
	t.Fatalf("voxfleet %s: %v", strings.Join(args, " "), err)
	return -1, "", ""
}

// TestRefusedRestart: a restart the daemon refuses (no such worker, the
// daemon stopping) reaches the operator as the refusal and exit 2, and the
// daemon goes on serving.
func TestRefusedRestart(t *testing.T) {
	f := startFleet(t, 2, 0)
	f.waitReady(2)

	code, out, errOut := f.cli(t, "restart", "42")
	if code != exitUsage || !strings.Contains(errOut, "no worker 42") || strings.Contains(errOut, "EOF") {
		t.Fatalf("restart 42: rc %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	t.Logf("voxfleet restart 42 → rc %d: %s", code, strings.TrimSpace(errOut))
	f.waitReady(2) // still serving, nothing replaced

	// While the daemon stops (draining a call), a restart is refused.
	cl := f.call(t)
	f.cmd.Process.Signal(syscall.SIGTERM)
	f.waitFor(5*time.Second, "the daemon draining", func() bool { fl, _ := f.health(); return fl.Draining == 1 })
	code, out, errOut = f.cli(t, "restart", "1")
	if code != exitUsage || !strings.Contains(errOut, "stopping") {
		t.Fatalf("restart while stopping: rc %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	t.Logf("voxfleet restart 1 while stopping → rc %d: %s", code, strings.TrimSpace(errOut))
	hangUp(t, cl)
	select {
	case <-f.exited:
	case <-time.After(15 * time.Second):
		t.Fatal("daemon did not stop after its last call")
	}
}

const exitUsage = 2
