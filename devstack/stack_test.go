package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voxplatform/vox/internal/testenv"
	"github.com/voxplatform/vox/internal/testlivekit"
	"github.com/voxplatform/vox/internal/testmongo"
	"github.com/voxplatform/vox/internal/testnginx"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/runtimeclient"
)

// freeBase finds PortSpan consecutive free loopback ports.
func freeBase(t *testing.T) int {
	t.Helper()
	for range 50 {
		base := 20000 + rand.IntN(30000)
		ok := true
		for off := range PortSpan {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base+off)))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

// buildBinaries builds the platform's commands into a temporary directory.
func buildBinaries(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+"/", "../cmd/voxbridge", "../cmd/voxfleet", "../cmd/voxdialler")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return dir
}

// processesUnder lists live processes whose command line mentions dir or
// that hold a file under it open (an nginx worker's command line names
// nothing, its logs are under dir).
func processesUnder(dir string) []string {
	var found []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			if f := strings.Fields(string(stat)); len(f) > 2 && f[2] == "Z" {
				continue // a zombie: exited, waiting to be reaped by its parent
			}
		}
		line := string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		if strings.Contains(line, dir) || holdsFileUnder(pid, dir) {
			found = append(found, fmt.Sprintf("%d %s", pid, line))
		}
	}
	return found
}

// consoleBuild writes a stand-in for the Console's build (index.html and
// one asset), so that the test can tell the API site serves it.
func consoleBuild(t *testing.T) (dir, index string) {
	t.Helper()
	dir = t.TempDir()
	index = "<!doctype html><title>Vox Console</title><script type=module src=/assets/app.js></script>\n"
	if err := os.MkdirAll(filepath.Join(dir, "assets"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"index.html": index, "assets/app.js": "console.log('vox')\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, index
}

// get fetches url and returns its status, Content-Type and body.
func get(t *testing.T, url string) (int, string, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return res.StatusCode, res.Header.Get("Content-Type"), string(b)
}

// holdsFileUnder reports whether process pid has a file under dir open.
func holdsFileUnder(pid int, dir string) bool {
	fds, _ := os.ReadDir(filepath.Join("/proc", strconv.Itoa(pid), "fd"))
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "fd", fd.Name())); err == nil && strings.HasPrefix(target, dir+"/") {
			return true
		}
	}
	return false
}

// TestStackUpStatusCallAndStop runs the whole development stack, checks
// every part's health through Status (the Console served, the Dialler's
// /health and /metrics), places a test call through the fleet site's nginx
// with an agent created through the Backend's API and waits for its call
// record and recording to reach the Backend, checks that fleet selection
// picks the development fleet, stops the stack and checks that no process
// it started is left.
func TestStackUpStatusCallAndStop(t *testing.T) {
	for _, tool := range []string{"nginx", "redis-server"} {
		testenv.Require(t, tool, "make deps")
	}
	if _, err := testmongo.Binary(); err != nil {
		t.Fatal(err)
	}
	testlivekit.Lookup(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	consoleDir, index := consoleBuild(t)
	cfg := Config{Root: root, BinDir: buildBinaries(t), Dir: testnginx.ShortTempDir(t), PortBase: freeBase(t), Workers: 2,
		ConsoleDir: consoleDir}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- Up(ctx, cfg, &out) }()

	// Wait for the stack to say it is up.
	deadline := time.Now().Add(3 * time.Minute)
	var parts []PartHealth
	for {
		parts, err = Status(context.Background(), cfg.Dir)
		if err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("stack ended before it was up: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("stack not up: %v\n%s", err, out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	names := map[string]bool{}
	for _, p := range parts {
		names[p.Name] = true
		if !p.OK {
			t.Errorf("%s is down: %s", p.Name, p.Error)
		}
	}
	for _, want := range []string{"redis", "mongodb", "minio", "livekit", "voxbridge", "nginx", "console", "voxfleet", "voxdialler"} {
		if !names[want] {
			t.Errorf("no %s among the parts: %+v", want, parts)
		}
	}
	// The Backend is healthy through the API site's nginx.
	if err := CheckHTTP(context.Background(), "http://"+cfg.addr(offConsole)+"/health"); err != nil {
		t.Errorf("API site: %v", err)
	}

	// The Console's build is served by the API site, its routes fall back
	// to index.html, its assets are typed.
	console := "http://" + cfg.addr(offConsole)
	for _, path := range []string{"/", "/calls/some-call"} {
		if code, _, body := get(t, console+path); code != http.StatusOK || body != index {
			t.Errorf("Console %s: %d %q", path, code, body)
		}
	}
	if code, ctype, _ := get(t, console+"/assets/app.js"); code != http.StatusOK || !strings.Contains(ctype, "javascript") {
		t.Errorf("Console asset: %d %q", code, ctype)
	}
	// The Dialler runs the loop (leader of the database).
	var dh struct {
		Status string `json:"status"`
		Role   string `json:"role"`
	}
	if code, _, body := get(t, "http://"+cfg.addr(offDialler)+"/health"); code != http.StatusOK || json.Unmarshal([]byte(body), &dh) != nil || dh.Status != "ok" {
		t.Errorf("Dialler health: %d %s", code, body)
	}

	// A test call through the fleet site, with an agent made through the
	// Backend's API, is answered and heard, and its record reaches the
	// Backend: ended, with its recording in MinIO.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel2()
	be, err := Login(ctx2, cfg.Dir)
	if err != nil {
		t.Fatal(err)
	}
	agentID, err := be.DevAgent(ctx2)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := be.DevAgent(ctx2); err != nil || again != agentID {
		t.Errorf("the test agent is made once: %s then %s (%v)", agentID, again, err)
	}
	url, secret, err := CallTarget(cfg.Dir)
	if err != nil {
		t.Fatal(err)
	}
	call := exec.Command(filepath.Join(cfg.BinDir, "voxfleet"), "call", "--url", url, "--fleet-id", DevFleetID,
		"--agent-id", agentID, "--json")
	call.Env = append(os.Environ(), "VOX_SERVICE_SECRET="+secret)
	b, err := call.Output()
	var res struct {
		CallSID string `json:"call_sid"`
		OK      bool   `json:"ok"`
		EchoMS  int    `json:"echo_ms"`
		Problem string `json:"problem"`
	}
	if jerr := json.Unmarshal(b, &res); err != nil || jerr != nil || !res.OK || res.EchoMS == 0 || res.CallSID == "" {
		t.Fatalf("test call: %v %v %+v\n%s", err, jerr, res, b)
	}
	rec, err := be.WaitCall(ctx2, res.CallSID, true)
	if err != nil {
		t.Fatalf("call record: %v\n%+v", err, rec)
	}
	if rec.Status != runtimeapi.CallCompleted || rec.AgentID != agentID || rec.FleetURL != "http://"+cfg.addr(offFleet) || rec.RecordingURL == "" {
		t.Errorf("call record: %+v", rec)
	}
	// The fleet is registered in the Backend: fleet selection for the
	// organisation picks it.
	rc, err := runtimeclient.New(runtimeclient.Config{BaseURL: "http://" + cfg.addr(offBridge), Secret: []byte(secret), Subject: "devstack-test"})
	if err != nil {
		t.Fatal(err)
	}
	if choice, err := rc.SelectFleet(ctx2, rec.OrgID); err != nil || choice.FleetID != DevFleetID || choice.URL != "http://"+cfg.addr(offFleet) {
		t.Errorf("fleet selection: %+v %v", choice, err)
	}
	if code, _, body := get(t, rec.RecordingURL); code != http.StatusOK || len(body) < 1000 {
		t.Errorf("recording %s: %d, %d bytes", rec.RecordingURL, code, len(body))
	}
	var list struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if err := be.Get(ctx2, "/api/v1/calls?agent_id="+agentID, &list); err != nil || len(list.Items) != 1 || list.Items[0].ID != res.CallSID {
		t.Errorf("calls of the test agent: %v %+v", err, list)
	}

	// A second stack on the same directory is refused while this one runs.
	if err := Up(context.Background(), cfg, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second stack on the same directory: %v", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stack stop: %v", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("stack did not stop")
	}
	for _, p := range parts {
		if err := syscall.Kill(p.PID, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) still running after stop", p.Name, p.PID)
		}
	}
	if left := processesUnder(cfg.Dir); len(left) > 0 {
		t.Errorf("processes left after stop:\n%s", strings.Join(left, "\n"))
	}
	if _, err := Status(context.Background(), cfg.Dir); !errors.Is(err, ErrNotRunning) {
		t.Errorf("status after stop: %v", err)
	}
}

// TestStackForcedStop stops a stack at once (a second Ctrl-C) while a call
// is in progress: every process it started is gone, the busy worker (in a
// process group of its own) and nginx's workers included.
func TestStackForcedStop(t *testing.T) {
	for _, tool := range []string{"nginx", "redis-server"} {
		testenv.Require(t, tool, "make deps")
	}
	if _, err := testmongo.Binary(); err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	consoleDir, _ := consoleBuild(t)
	force := make(chan struct{})
	cfg := Config{Root: root, BinDir: buildBinaries(t), Dir: testnginx.ShortTempDir(t), PortBase: freeBase(t), Workers: 1,
		ConsoleDir: consoleDir, Force: force}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- Up(ctx, cfg, &out) }()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if _, err := Status(context.Background(), cfg.Dir); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("stack ended before it was up: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("stack not up\n%s", out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}

	// A long call keeps the only worker busy. It is placed on the worker's
	// socket, not through nginx: killing nginx must not be what ends it.
	_, secret, err := CallTarget(cfg.Dir)
	if err != nil {
		t.Fatal(err)
	}
	call := exec.Command(filepath.Join(cfg.BinDir, "voxfleet"), "call", "--socket", filepath.Join(cfg.Dir, "run", "worker-1.sock"),
		"--fleet-id", DevFleetID, "--speak", "5m", "--timeout", "6m")
	call.Env = append(os.Environ(), "VOX_SERVICE_SECRET="+secret)
	if err := call.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = call.Process.Kill(); _ = call.Wait() }()
	for busy := false; !busy; {
		if time.Now().After(deadline) {
			t.Fatal("the worker never turned busy")
		}
		parts, err := Status(context.Background(), cfg.Dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			if p.Name == "voxfleet" {
				var f struct {
					Busy int `json:"busy"`
				}
				code, _, body := get(t, p.Health)
				busy = code == http.StatusOK && json.Unmarshal([]byte(body), &f) == nil && f.Busy == 1
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	workers := processesUnder(filepath.Join(cfg.Dir, "run"))
	if len(workers) == 0 {
		t.Fatal("no worker process found")
	}

	cancel()
	close(force)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stack stop: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a forced stop took longer than 30 s")
	}
	// Killed processes may take a moment to be reaped by init.
	var left []string
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		// The test's own caller is not the stack's: it is left alone, so
		// that its hanging up cannot be what ends the worker.
		left = slices.DeleteFunc(processesUnder(cfg.Dir), func(p string) bool {
			return strings.HasPrefix(p, strconv.Itoa(call.Process.Pid)+" ")
		})
		if len(left) == 0 {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("processes left after a forced stop (workers were %v):\n%s", workers, strings.Join(left, "\n"))
	}
}
