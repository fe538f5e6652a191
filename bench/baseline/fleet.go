package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/voxplatform/vox/control"
	"github.com/voxplatform/vox/svcauth"
	"github.com/voxplatform/vox/upstream"
)

// benchSecret is the fleet's service secret for the benchmark only.
const benchSecret = "bench-baseline-service-secret-0123456789"

// benchFleetID is the voxfleet's identity; its tokens are scoped to it.
const benchFleetID = "bench-baseline"

// fleet is voxfleet: `voxfleet run` with N workers behind nginx with the
// site from deploy/nginx/voxfleet.conf.
type fleet struct {
	n        int
	bin      string // voxfleet binary
	siteFile string // deploy/nginx/voxfleet.conf
	dir      string
	listen   string // the daemon's /health/fleet address
	ngx      *nginx
	daemon   *child
	tok      string
}

func newFleet(n int, bin, siteFile string) *fleet { return &fleet{n: n, bin: bin, siteFile: siteFile} }

func (f *fleet) name() string { return "voxfleet" }

func (f *fleet) operations() (string, string) {
	return "`voxfleet restart --rolling`", "`voxfleet restart`"
}

func (f *fleet) socketDir() string { return filepath.Join(f.dir, "s") }

func (f *fleet) sockets() []string {
	out := make([]string, f.n)
	for i := range out {
		out[i] = filepath.Join(f.socketDir(), "worker-"+strconv.Itoa(i+1)+".sock")
	}
	return out
}

func (f *fleet) managerPID() int { return f.daemon.pid() }
func (f *fleet) callURL() string { return "ws://" + f.ngx.addr + "/ws/twilio" }
func (f *fleet) token() string   { return f.tok }

var (
	listenSSL = regexp.MustCompile(`(?m)^\s*listen 443 ssl;`)
	sslLine   = regexp.MustCompile(`(?m)^\s*ssl_\S+ .*;\n`)
	redirect  = regexp.MustCompile(`(?s)server \{\s*listen 80;.*?\n\}\n`)
	include   = regexp.MustCompile(`(?m)^include /etc/voxfleet/upstream.conf;`)
)

// site adapts deploy/nginx/voxfleet.conf as integration/harness_test.go
// does: plain HTTP on a loopback port instead of TLS on 443, the rendered
// upstream file and the daemon's address of this run, logs in the prefix.
// Everything else is the file as shipped.
func (f *fleet) site(text string) func(addr string) string {
	return func(addr string) string {
		s := redirect.ReplaceAllString(text, "")
		s = listenSSL.ReplaceAllString(s, "    listen "+addr+";")
		s = sslLine.ReplaceAllString(s, "")
		s = include.ReplaceAllString(s, "include "+f.upstreamFile()+";")
		s = strings.ReplaceAll(s, "127.0.0.1:9180", f.listen)
		return strings.ReplaceAll(s, "/var/log/nginx/", filepath.Join(f.dir, "nginx")+"/")
	}
}

func (f *fleet) upstreamFile() string { return filepath.Join(f.dir, "upstream.conf") }

func (f *fleet) open(context.Context) error {
	b, err := os.ReadFile(f.siteFile)
	if err != nil {
		return fmt.Errorf("read nginx site: %w", err)
	}
	for _, must := range []*regexp.Regexp{listenSSL, redirect, include} {
		if !must.Match(b) {
			return fmt.Errorf("%s changed shape: %s not found; update bench/baseline", f.siteFile, must)
		}
	}
	if f.tok, err = svcauth.Sign([]byte(benchSecret), svcauth.FleetAudience(benchFleetID), "bench-baseline", time.Hour); err != nil {
		return fmt.Errorf("sign token: %w", err)
	}
	if f.dir, err = os.MkdirTemp("", "vxf"); err != nil {
		return fmt.Errorf("fleet dir: %w", err)
	}
	if f.listen, err = freeAddr(); err != nil {
		return err
	}
	// nginx needs the include to exist before the daemon renders it.
	if err := os.WriteFile(f.upstreamFile(), upstream.Render(upstream.Params{}), 0o644); err != nil {
		return fmt.Errorf("write upstream: %w", err)
	}
	f.ngx, err = startNginx(filepath.Join(f.dir, "nginx"), f.site(string(b)))
	return err
}

func (f *fleet) startWorkers(ctx context.Context) (time.Duration, error) {
	_ = os.Remove(filepath.Join(f.dir, "state.json"))
	cmd := exec.Command(f.bin, "run",
		"--workers", strconv.Itoa(f.n),
		"--socket-dir", f.socketDir(),
		"--state-file", filepath.Join(f.dir, "state.json"),
		"--listen", f.listen,
		"--upstream-file", f.upstreamFile(),
		"--nginx-test", f.ngx.testCmd(),
		"--nginx-reload", f.ngx.reloadCmd(),
		"--stop-timeout", "5s",
		"--log-level", "warn", "--worker-log-level", "warn")
	cmd.Env = append(os.Environ(), "VOX_SERVICE_SECRET="+benchSecret, "VOXFLEET_FLEET_ID="+benchFleetID)
	start := time.Now()
	p, err := startChild("voxfleet", cmd, filepath.Join(f.dir, "voxfleet.log"))
	if err != nil {
		return 0, err
	}
	f.daemon = p
	d, err := waitAllHealthy(ctx, start, f.sockets(), 60*time.Second)
	if err != nil {
		return 0, fmt.Errorf("voxfleet workers: %w", err)
	}
	return d, nil
}

// waitRouting waits until the daemon says every worker is ready, the
// upstream file lists them all and nginx, reloaded, passes requests to a
// worker (which answers 401 without a token) rather than answering 503.
func (f *fleet) waitRouting(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		if f.routing(ctx) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nginx not routing to %d voxfleet workers: %w", f.n, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (f *fleet) routing(ctx context.Context) bool {
	st, err := control.NewClient(f.socketDir()).Status(ctx)
	if err != nil || st.Ready != f.n {
		return false
	}
	b, _ := os.ReadFile(f.upstreamFile())
	if strings.Count(string(b), "max_conns=1") != f.n {
		return false
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.ngx.url("/attach"), strings.NewReader("{}"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusUnauthorized
}

func (f *fleet) restart(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, f.bin, append([]string{"restart", "--json", "--socket-dir", f.socketDir()}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("voxfleet restart %s: %w: %s", strings.Join(args, " "), err, lastLines(string(out), 3))
	}
	// The last progress line says whether every worker was replaced.
	var last control.Progress
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		_ = json.Unmarshal([]byte(l), &last)
	}
	if last.Error != "" {
		return fmt.Errorf("voxfleet restart %s: %s", strings.Join(args, " "), last.Error)
	}
	return nil
}

func (f *fleet) rollingRestart(ctx context.Context) error { return f.restart(ctx, "--rolling") }
func (f *fleet) fullRestart(ctx context.Context) error    { return f.restart(ctx) }

func (f *fleet) stopWorkers() {
	if f.daemon == nil {
		return
	}
	// The daemon drains on SIGTERM: idle workers exit at once, calls get
	// --stop-timeout.
	f.daemon.stop(syscall.SIGTERM, 15*time.Second)
	f.daemon = nil
}

func (f *fleet) close() {
	f.stopWorkers()
	f.ngx.stop()
	if f.dir != "" {
		_ = os.RemoveAll(f.dir)
	}
}
