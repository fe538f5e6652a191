package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
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
	"github.com/voxplatform/vox/internal/testenv"
	"github.com/voxplatform/vox/internal/testnginx"
	"github.com/voxplatform/vox/svcauth"
	"github.com/voxplatform/vox/upstream"
)

const secret = "integration-test-service-secret"

// fleetID is the fleet identity of every test voxfleet (VOXFLEET_FLEET_ID).
const fleetID = "integration-fleet"

// voxfleetBin is the binary built once for every test.
var voxfleetBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vxbin")
	if err != nil {
		panic(err)
	}
	voxfleetBin = filepath.Join(dir, "voxfleet")
	out, err := exec.Command("go", "build", "-o", voxfleetBin, "github.com/voxplatform/vox/cmd/voxfleet").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build voxfleet: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fleet is a voxfleet daemon behind a real nginx.
type fleet struct {
	t        *testing.T
	dir      string
	nginx    *testnginx.Nginx
	upstream string
	listen   string
	bin      string // the daemon's binary
	args     []string
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the daemon has exited; then exitErr is set
	exitErr  error
	logFile  *os.File // daemon and worker output: a file, so survivors of a killed daemon never hold a pipe
	ctl      *control.Client
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

var (
	listenSSL = regexp.MustCompile(`(?m)^\s*listen 443 ssl;`)
	sslLine   = regexp.MustCompile(`(?m)^\s*ssl_\S+ .*;\n`)
	redirect  = regexp.MustCompile(`(?s)server \{\s*listen 80;.*?\n\}\n`)
	include   = regexp.MustCompile(`(?m)^include /etc/voxfleet/upstream.conf;`)
)

// site adapts deploy/nginx/voxfleet.conf to a test prefix: plain HTTP on the
// test port instead of TLS on 443, the rendered upstream file and the daemon
// address of this test, logs in the prefix. Everything else is the file as shipped.
func site(t *testing.T, upstreamFile, daemonAddr string) string {
	b, err := os.ReadFile("../deploy/nginx/voxfleet.conf")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, must := range []*regexp.Regexp{listenSSL, redirect, include} {
		if !must.MatchString(s) {
			t.Fatalf("deploy/nginx/voxfleet.conf changed shape: %s not found; update this test", must)
		}
	}
	s = redirect.ReplaceAllString(s, "")
	s = listenSSL.ReplaceAllString(s, "    listen {{.Addr}};")
	s = sslLine.ReplaceAllString(s, "")
	s = include.ReplaceAllString(s, "include "+upstreamFile+";")
	s = strings.ReplaceAll(s, "127.0.0.1:9180", daemonAddr)
	s = strings.ReplaceAll(s, "/var/log/nginx/", "{{.Prefix}}/")
	return s
}

// startFleet starts nginx (4 worker processes) and `voxfleet run` with n
// workers. crashIndex, when > 0, makes that worker index crash at start.
func startFleet(t *testing.T, n, crashIndex int) *fleet {
	return startFleetWith(t, n, crashIndex, voxfleetBin)
}

// startFleetWith runs the daemon from bin. With crashIndex 0 the workers run
// the daemon's own binary, as in production.
func startFleetWith(t *testing.T, n, crashIndex int, bin string, extra ...string) *fleet {
	t.Helper()
	testenv.Require(t, "nginx", "apt-get install -y nginx")
	dir := testnginx.ShortTempDir(t)
	f := &fleet{t: t, dir: dir, bin: bin, upstream: filepath.Join(dir, "upstream.conf"), listen: freeAddr(t),
		ctl: control.NewClient(filepath.Join(dir, "s"))}
	// nginx needs the include to exist before the daemon renders it.
	if err := os.WriteFile(f.upstream, upstream.Render(upstream.Params{}), 0o644); err != nil {
		t.Fatal(err)
	}
	f.nginx = testnginx.Start(t, testnginx.Options{Workers: 4, Site: site(t, f.upstream, f.listen)})

	// The worker binary is a wrapper that lets one index crash-loop.
	wrapper := filepath.Join(dir, "worker.sh")
	script := fmt.Sprintf("#!/bin/sh\n[ \"$VOXFLEET_WORKER_INDEX\" = %d ] && exit 1\nexec %s \"$@\"\n", crashIndex, voxfleetBin)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	lf, err := os.Create(filepath.Join(dir, "voxfleet.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lf.Close() })
	f.logFile = lf
	f.args = []string{"run",
		"--workers", fmt.Sprint(n),
		"--socket-dir", filepath.Join(dir, "s"),
		"--state-file", filepath.Join(dir, "state.json"),
		"--listen", f.listen,
		"--upstream-file", f.upstream,
		"--nginx-test", f.nginx.TestCmd(),
		"--nginx-reload", f.nginx.ReloadCmd(),
		"--stop-timeout", "20s",
	}
	if crashIndex > 0 {
		f.args = append(f.args, "--worker-binary", wrapper)
	}
	f.args = append(f.args, extra...)
	f.startDaemon()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("voxfleet log:\n%s", tail(f.logText(), 60))
			t.Logf("nginx error log:\n%s", f.nginx.ErrorLogTail(30))
		}
	})
	return f
}

// startDaemon starts `voxfleet run` with the fleet's arguments; the test's
// cleanup stops it if it still runs.
func (f *fleet) startDaemon() {
	f.t.Helper()
	f.startCmd(exec.Command(f.bin, f.args...))
}

// startCmd starts cmd as the fleet's daemon.
func (f *fleet) startCmd(cmd *exec.Cmd) {
	f.t.Helper()
	cmd.Env = append(cmd.Env, os.Environ()...)
	cmd.Env = append(cmd.Env, "VOX_SERVICE_SECRET="+secret, "VOXFLEET_FLEET_ID="+fleetID)
	cmd.Stdout, cmd.Stderr = f.logFile, f.logFile
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { f.exitErr = cmd.Wait(); close(exited) }()
	f.cmd, f.exited = cmd, exited
	f.t.Cleanup(func() {
		select {
		case <-exited:
			return
		default:
		}
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
		}
	})
}

func (f *fleet) logText() string {
	b, _ := os.ReadFile(f.logFile.Name())
	return string(b)
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// health reads /health/fleet through nginx, as the Backend does.
func (f *fleet) health() (fleetapi.Fleet, int) {
	var fl fleetapi.Fleet
	resp, err := http.Get(f.nginx.URL("/health/fleet"))
	if err != nil {
		return fl, 0
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(&fl)
	return fl, resp.StatusCode
}

// upstreamServers counts the server lines of the rendered upstream file.
func (f *fleet) upstreamServers() int {
	b, _ := os.ReadFile(f.upstream)
	return strings.Count(string(b), "max_conns=1")
}

func (f *fleet) waitFor(d time.Duration, what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			fl, _ := f.health()
			f.t.Fatalf("timed out after %s waiting for %s; fleet %+v", d, what, fl)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *fleet) waitReady(n int) {
	f.t.Helper()
	f.waitFor(15*time.Second, fmt.Sprintf("%d ready workers in nginx", n), func() bool {
		fl, _ := f.health()
		return fl.Ready == n && f.upstreamServers() == n
	})
	// nginx applies a reload asynchronously: wait until requests reach a
	// worker (401 without a token) rather than nginx's own 503.
	f.waitFor(10*time.Second, "nginx routing to the workers", func() bool {
		resp, err := http.Post(f.nginx.URL("/attach"), "application/json", strings.NewReader("{}"))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusUnauthorized
	})
}

func token(t *testing.T, aud string) string {
	tok, err := svcauth.Sign([]byte(secret), aud, "integration", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func killPID(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }
