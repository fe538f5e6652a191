package api_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// voxfleetDaemon is a real `voxfleet run` on loopback, without nginx: the
// Backend reads its /health/fleet directly.
type voxfleetDaemon struct {
	url, dir, bin string
	cmd           *exec.Cmd
}

func startVoxfleet(t *testing.T, bin string, workers int) *voxfleetDaemon {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir, err := os.MkdirTemp("", "vxsel")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	d := &voxfleetDaemon{url: "http://" + addr, dir: dir, bin: bin}
	d.cmd = exec.Command(bin, "run", "--workers", fmt.Sprint(workers), "--socket-dir", dir,
		"--state-file", filepath.Join(dir, "state.json"), "--upstream-file", filepath.Join(dir, "upstream.conf"),
		"--listen", addr, "--log-level", "warn", "--worker-log-level", "warn")
	d.cmd.Env = append(os.Environ(), "VOX_SERVICE_SECRET=voxfleet-selection-test-secret", "VOXFLEET_FLEET_ID=selection-test")
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.stop)
	return d
}

func (d *voxfleetDaemon) stop() {
	if d.cmd.ProcessState != nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		d.cmd.Process.Kill()
		<-done
	}
}

func (d *voxfleetDaemon) scale(t *testing.T, n int) {
	t.Helper()
	if out, err := exec.Command(d.bin, "scale", fmt.Sprint(n), "--socket-dir", d.dir).CombinedOutput(); err != nil {
		t.Fatalf("voxfleet scale %d: %v\n%s", n, err, out)
	}
}

// TestFleetSelectionWithVoxfleet selects between two real voxfleet hosts by
// their /health/fleet: the one with more free workers, then the other when
// the first is scaled to nothing, then none when both are gone.
func TestFleetSelectionWithVoxfleet(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "voxfleet")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/voxplatform/vox/cmd/voxfleet").CombinedOutput(); err != nil {
		t.Fatalf("build voxfleet: %v\n%s", err, out)
	}
	small, big := startVoxfleet(t, bin, 1), startVoxfleet(t, bin, 3)

	m, r := sharedServers(t)
	h := start(t, testConfig(t, m, r), true)
	tok, orgID := h.org("Real Fleets Org")
	svc := h.service()
	selected := func() string {
		r := h.req("GET", "/runtime/fleets/select?org_id="+orgID, svc, nil)
		if r.Status != 200 {
			return ""
		}
		return r.JSON(t)["url"].(string)
	}
	h.must(201, "POST", "/api/v1/fleets", tok, map[string]any{"name": "small", "url": small.url})
	h.must(201, "POST", "/api/v1/fleets", tok, map[string]any{"name": "big", "url": big.url})
	eventually(t, 15*time.Second, func() error {
		if u := selected(); u != big.url {
			return fmt.Errorf("selected %q, want the host with 3 free workers %s", u, big.url)
		}
		return nil
	})
	// The big host is resized to nothing: its /health/fleet says down (503).
	big.scale(t, 0)
	eventually(t, 15*time.Second, func() error {
		if u := selected(); u != small.url {
			return fmt.Errorf("selected %q, want %s", u, small.url)
		}
		return nil
	})
	// Both hosts gone: nothing to select.
	small.stop()
	big.stop()
	eventually(t, 15*time.Second, func() error {
		if r := h.req("GET", "/runtime/fleets/select?org_id="+orgID, svc, nil); r.Status != 503 {
			return fmt.Errorf("status %d with both hosts stopped", r.Status)
		}
		return nil
	})
}
