package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/svcauth"
	"github.com/voxplatform/vox/twilio"
)

// TestVoxfleetCallRecordsReachTheBackend: a real voxfleet host whose
// workers read the agent's configuration from the real voxbridge and spool
// each call's record, which its daemon delivers. The Backend goes down
// before the call ends: the final record waits in the host's spool and
// reaches the Backend once it is back.
func TestVoxfleetCallRecordsReachTheBackend(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "voxfleet")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/voxplatform/vox/cmd/voxfleet").CombinedOutput(); err != nil {
		t.Fatalf("build voxfleet: %v\n%s", err, out)
	}
	h := newHarness(t)
	tok, _ := h.org("Fleet Records Org")
	agentID := h.must(201, "POST", "/api/v1/agents", tok, agentBody("Records"))["id"].(string)

	m, r := sharedServers(t)
	cfg := testConfig(t, m, r)
	cfg.MongoDatabase = h.cfg.MongoDatabase
	cfg.ShutdownTimeout = time.Second
	b := &restartable{t: t, cfg: cfg, addr: "127.0.0.1:0"}
	b.start()

	const fleetID = "records-test"
	d := startVoxfleetEnv(t, bin, 1, []string{"VOX_SERVICE_SECRET=" + serviceSecret, "VOXFLEET_FLEET_ID=" + fleetID,
		"VOXFLEET_BACKEND_URL=http://" + b.addr, "VOXFLEET_FLEET_URL=https://fleet-records.example.com"})
	sock := filepath.Join(d.dir, "worker-1.sock")
	eventually(t, 20*time.Second, func() error {
		_, err := fleetapi.Socket(sock).Health(context.Background())
		return err
	})

	calls := func(id string) map[string]any {
		res := h.req("GET", "/api/v1/calls/"+id, tok, nil)
		var body map[string]any
		if res.Status != http.StatusOK || json.Unmarshal(res.Body, &body) != nil {
			return nil
		}
		return body
	}
	tk, err := svcauth.Sign([]byte(serviceSecret), svcauth.FleetAudience(fleetID), "test", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, _, err := twilio.Dial(ctx, twilio.ClientConfig{URL: "ws://worker/ws/twilio", SocketPath: sock, Token: tk,
		CustomParameters: map[string]string{"agent_id": agentID}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Wait(ctx, func(s twilio.Stats) bool { return s.VoicedBytes > 0 }); err != nil {
		t.Fatalf("greeting: %v", err)
	}
	id := cl.CallSID()
	eventually(t, 20*time.Second, func() error {
		if c := calls(id); c == nil || c["status"] != "in-progress" {
			return fmt.Errorf("call %s in the Backend: %v", id, c)
		}
		return nil
	})

	b.stop() // the Backend goes down while the call runs
	if err := cl.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Wait(ctx, func(s twilio.Stats) bool { return s.Closed }); err != nil {
		t.Fatal(err)
	}
	spooled := filepath.Join(d.dir, "spool", "calls", "pending", id+".json")
	eventually(t, 10*time.Second, func() error { _, err := os.Stat(spooled); return err })
	time.Sleep(1500 * time.Millisecond) // at least one failed delivery
	if c := calls(id); c["status"] != "in-progress" {
		t.Fatalf("the record changed while the Backend was down: %v", c)
	}

	b.start()
	eventually(t, 30*time.Second, func() error {
		c := calls(id)
		if c == nil || c["status"] != "completed" || c["end_cause"] != "caller_hangup" || c["carrier"] != "twilio" ||
			c["fleet_url"] != "https://fleet-records.example.com" {
			return fmt.Errorf("call %s in the Backend: %v", id, c)
		}
		return nil
	})
	eventually(t, 10*time.Second, func() error {
		if _, err := os.Stat(spooled); !os.IsNotExist(err) {
			return fmt.Errorf("still spooled: %v", err)
		}
		return nil
	})
}

// startVoxfleetEnv starts a real `voxfleet run` with env, its state, spool
// and sockets in one directory.
func startVoxfleetEnv(t *testing.T, bin string, workers int, env []string) *voxfleetDaemon {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir, err := os.MkdirTemp("", "vxrec")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	d := &voxfleetDaemon{url: "http://" + addr, dir: dir, bin: bin}
	d.cmd = exec.Command(bin, "run", "--workers", fmt.Sprint(workers), "--socket-dir", dir,
		"--state-file", filepath.Join(dir, "state.json"), "--upstream-file", filepath.Join(dir, "upstream.conf"),
		"--listen", addr, "--log-level", "warn", "--worker-log-level", "warn")
	d.cmd.Env = append(os.Environ(), env...)
	d.cmd.Stderr = os.Stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.stop)
	return d
}
