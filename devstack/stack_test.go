package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voxplatform/vox/internal/testenv"
	"github.com/voxplatform/vox/internal/testmongo"
	"github.com/voxplatform/vox/internal/testnginx"
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
	cmd := exec.Command("go", "build", "-o", dir+"/", "../cmd/voxbridge", "../cmd/voxfleet")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return dir
}

// processesUnder lists live processes whose command line mentions dir.
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
		if strings.Contains(line, dir) {
			found = append(found, fmt.Sprintf("%d %s", pid, line))
		}
	}
	return found
}

// TestStackUpStatusCallAndStop runs the whole development stack, checks
// every part's health through Status, places a test call through the fleet
// site's nginx, stops the stack and checks that no process it started is
// left.
func TestStackUpStatusCallAndStop(t *testing.T) {
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
	cfg := Config{Root: root, BinDir: buildBinaries(t), Dir: testnginx.ShortTempDir(t), PortBase: freeBase(t), Workers: 2}

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
	for _, want := range []string{"redis", "mongodb", "minio", "voxbridge", "nginx", "voxfleet"} {
		if !names[want] {
			t.Errorf("no %s among the parts: %+v", want, parts)
		}
	}
	// The Backend is healthy through the API site's nginx.
	if err := CheckHTTP(context.Background(), "http://"+cfg.addr(offConsole)+"/health"); err != nil {
		t.Errorf("API site: %v", err)
	}

	// A test call through the fleet site is answered and heard.
	url, secret, err := CallTarget(cfg.Dir)
	if err != nil {
		t.Fatal(err)
	}
	call := exec.Command(filepath.Join(cfg.BinDir, "voxfleet"), "call", "--url", url, "--fleet-id", DevFleetID, "--json")
	call.Env = append(os.Environ(), "VOX_SERVICE_SECRET="+secret)
	b, err := call.Output()
	var res struct {
		OK      bool   `json:"ok"`
		EchoMS  int    `json:"echo_ms"`
		Problem string `json:"problem"`
	}
	if jerr := json.Unmarshal(b, &res); err != nil || jerr != nil || !res.OK || res.EchoMS == 0 {
		t.Errorf("test call: %v %v %+v\n%s", err, jerr, res, b)
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
