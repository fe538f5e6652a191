package devstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/voxplatform/vox/control"
	"github.com/voxplatform/vox/deploy"
	"github.com/voxplatform/vox/upstream"
)

// Development identities. The organisation and its owner are created by
// `voxbridge bootstrap` on every start (idempotent).
const (
	DevOrg     = "Dev Org"
	DevEmail   = "dev@vox.localhost"
	DevFleetID = "dev-fleet"
	// Bucket is where recordings go (MINIO_BUCKET's default).
	Bucket = "recordings"
)

// step is one part to start: how to check it can start, start it and
// know it is ready.
type step struct {
	name string
	part Part
	// skip, when it returns a reason, leaves the part out (an optional
	// binary that is not installed).
	skip func() string
	// prepare writes configuration before the start.
	prepare func(ctx context.Context) error
	cmd     func() (*exec.Cmd, error)
	ready   func(ctx context.Context) error
	// after runs once the part is ready (creating a bucket).
	after func(ctx context.Context) error
	// grace is how long the part may take to stop on SIGTERM.
	grace time.Duration
}

// Stack is the development platform on one machine.
type Stack struct {
	cfg     Config
	secrets Secrets
	out     io.Writer
	procs   []*proc
	state   State
}

// Up starts every part in order, waits until each is ready, prints where
// everything is, and runs until ctx ends or a part exits; then it stops
// every process it started, the last started first, and returns. A part
// that exits on its own is an error naming it, with its log's tail.
func Up(ctx context.Context, cfg Config, out io.Writer) (err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return fmt.Errorf("devstack: %w", err)
	}
	// One stack per directory: the lock is held for the stack's life and
	// released by the kernel however voxdev ends.
	lock, err := os.OpenFile(cfg.path("voxdev.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("devstack: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid := "?"
		if st, err := ReadState(cfg.Dir); err == nil {
			pid = strconv.Itoa(st.PID)
		}
		return fmt.Errorf("a stack is already running from %s (voxdev pid %s); stop it first", cfg.Dir, pid)
	}
	for _, d := range []string{"logs", "data", "run", "nginx/tmp"} {
		if err := os.MkdirAll(cfg.path(d), 0o755); err != nil {
			return fmt.Errorf("devstack: %w", err)
		}
	}
	if err := os.Chmod(cfg.Dir, 0o700); err != nil {
		return fmt.Errorf("devstack: %w", err)
	}
	secrets, err := loadSecrets(cfg.Dir)
	if err != nil {
		return fmt.Errorf("devstack: secrets: %w", err)
	}
	s := &Stack{cfg: cfg, secrets: secrets, out: out, state: State{PID: os.Getpid(), Login: DevEmail}}
	if cfg.Quiet {
		s.out = io.Discard
	}
	defer func() {
		s.stopAll()
		_ = os.Remove(cfg.path("stack.json"))
	}()

	steps, err := s.steps()
	if err != nil {
		return err
	}
	for _, st := range steps {
		if err := ctx.Err(); err != nil {
			return nil
		}
		if st.skip != nil {
			if why := st.skip(); why != "" {
				fmt.Fprintf(s.out, "  %-10s skipped: %s\n", st.name, why)
				continue
			}
		}
		if err := s.startStep(ctx, st); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	if err := writeState(cfg.Dir, s.state); err != nil {
		return fmt.Errorf("devstack: %w", err)
	}
	s.printSummary()

	// Run until interrupted or until a part dies.
	exited := make(chan *proc, len(s.procs))
	for _, p := range s.procs {
		go func(p *proc) { <-p.done; exited <- p }(p)
	}
	select {
	case <-ctx.Done():
		fmt.Fprintln(s.out, "stopping…")
		return nil
	case p := <-exited:
		return fmt.Errorf("%s exited (%v); its log %s ends:\n%s", p.name, p.err, p.log, p.tail())
	}
}

// startStep starts one part and waits for it to be ready.
func (s *Stack) startStep(ctx context.Context, st step) error {
	if st.prepare != nil {
		if err := st.prepare(ctx); err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
	}
	cmd, err := st.cmd()
	if err != nil {
		return fmt.Errorf("%s: %w", st.name, err)
	}
	t0 := time.Now()
	p, err := start(st.name, s.cfg.path("logs"), cmd)
	if err != nil {
		return err
	}
	p.grace = st.grace
	if p.grace == 0 {
		p.grace = 5 * time.Second
	}
	s.procs = append(s.procs, p)
	rctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := waitReady(rctx, p, st.ready); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s did not become ready: %w; its log %s ends:\n%s", st.name, err, p.log, p.tail())
	}
	if st.after != nil {
		if err := st.after(rctx); err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
	}
	st.part.PID = cmd.Process.Pid
	s.state.Parts = append(s.state.Parts, st.part)
	fmt.Fprintf(s.out, "  %-10s ready in %4d ms  %s\n", st.name, time.Since(t0).Milliseconds(), st.part.URL)
	return nil
}

// stopAll stops the processes in reverse start order.
func (s *Stack) stopAll() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		p := s.procs[i]
		p.stop(p.grace)
	}
	s.procs = nil
}

// waitReady polls ready until it succeeds, the process exits or ctx ends.
func waitReady(ctx context.Context, p *proc, ready func(context.Context) error) error {
	var last error
	for {
		if p.exited() {
			return fmt.Errorf("exited: %v", p.err)
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = ready(cctx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last check: %v)", ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// httpOK is a ready check: GET url answers 200.
func httpOK(url string) func(context.Context) error {
	return func(ctx context.Context) error { return CheckHTTP(ctx, url) }
}

// CheckHTTP gets url and fails unless it answers 200.
func CheckHTTP(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 300))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", url, res.StatusCode, strings.TrimSpace(string(b)))
	}
	return nil
}

// fleetReady is voxfleet's ready check: every desired worker is ready and
// nginx routes to them (the upstream is applied).
func fleetReady(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		var f control.Fleet
		if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&f); err != nil {
			return fmt.Errorf("GET %s: %d: %w", url, res.StatusCode, err)
		}
		switch {
		case f.Desired == 0 || f.Ready < f.Desired:
			return fmt.Errorf("%d of %d workers ready", f.Ready, f.Desired)
		case f.Upstream == nil || !f.Upstream.Applied:
			return fmt.Errorf("nginx does not route to the workers yet")
		}
		return nil
	}
}

// routed is the fleet site's ready check: a request to the call route
// reaches a worker (which refuses it: no token, no upgrade) instead of
// nginx's own 503 while its reloaded workers start.
func routed(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode == http.StatusServiceUnavailable || res.StatusCode == http.StatusBadGateway {
			return fmt.Errorf("GET %s: %d: no worker reached", url, res.StatusCode)
		}
		return nil
	}
}

// tcpOK is a ready check: addr accepts connections.
func tcpOK(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// alive reports whether a process with pid exists.
func alive(pid int) bool {
	p, err := os.FindProcess(pid)
	return err == nil && p.Signal(syscall.Signal(0)) == nil
}

// binary finds an executable: the first of paths that exists, else name on
// PATH (and in /usr/sbin, which a user's PATH may lack).
func binary(name string, paths ...string) (string, error) {
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/usr/local/sbin"} {
		if p := filepath.Join(d, name); fileExists(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found (make deps installs it)", name)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// gopathBin is $(go env GOPATH)/bin, where `go install` puts binaries.
func gopathBin() string {
	if p := os.Getenv("GOPATH"); p != "" {
		return filepath.Join(strings.Split(p, string(os.PathListSeparator))[0], "bin")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, "go", "bin")
}

// env is os.Environ plus kv pairs (later ones win).
func env(kv ...string) []string { return append(os.Environ(), kv...) }

func (s *Stack) url(off int) string { return "http://" + s.cfg.addr(off) }

// steps lists the parts in start order.
func (s *Stack) steps() ([]step, error) {
	c := s.cfg
	sec := s.secrets
	mongoURI := "mongodb://" + c.addr(offMongo) + "/"
	redisURL := "redis://" + c.addr(offRedis) + "/0"
	fleetURL := s.url(offFleet)
	upFile := c.path("nginx", "upstream.conf")
	lkBin, lkErr := binary("livekit-server", filepath.Join(c.Root, ".cache", "bin", "livekit-server"))
	lkOn := lkErr == nil
	dialBin := filepath.Join(c.BinDir, "voxdialler")
	consoleRoot := filepath.Join(c.Root, "frontend", "dist")

	bridgeEnv := []string{
		"VOXBRIDGE_HOST=127.0.0.1", "VOXBRIDGE_PORT=" + strconv.Itoa(c.PortBase+offBridge),
		"MONGODB_URI=" + mongoURI, "MONGODB_DATABASE=vox", "REDIS_URL=" + redisURL,
		"JWT_SECRET=" + sec["JWT_SECRET"], "VOX_SERVICE_SECRET=" + sec["VOX_SERVICE_SECRET"],
		"BCRYPT_COST=10", "LOG_LEVEL=info",
		"FLEET_PLATFORM=" + DevFleetID + "=" + fleetURL, "FLEET_ALLOWED_NETS=127.0.0.1/32",
		"MINIO_ENDPOINT=" + c.addr(offMinIO), "MINIO_ACCESS_KEY=" + sec["MINIO_ROOT_USER"],
		"MINIO_SECRET_KEY=" + sec["MINIO_ROOT_PASSWORD"], "MINIO_BUCKET=" + Bucket,
		"VOXBRIDGE_BOOTSTRAP_PASSWORD=" + sec["VOXBRIDGE_BOOTSTRAP_PASSWORD"],
	}
	if lkOn {
		bridgeEnv = append(bridgeEnv, "LIVEKIT_URL=ws://"+c.addr(offLiveKit),
			"LIVEKIT_API_KEY="+sec["LIVEKIT_API_KEY"], "LIVEKIT_API_SECRET="+sec["LIVEKIT_API_SECRET"])
	}
	fleetEnv := []string{
		"VOX_SERVICE_SECRET=" + sec["VOX_SERVICE_SECRET"], "VOXFLEET_FLEET_ID=" + DevFleetID,
		"VOXFLEET_BACKEND_URL=" + s.url(offBridge), "VOXFLEET_FLEET_URL=" + fleetURL,
		"VOXFLEET_SPOOL_DIR=" + c.path("data", "spool"),
		"VOXFLEET_MINIO_ENDPOINT=" + c.addr(offMinIO), "VOXFLEET_MINIO_ACCESS_KEY=" + sec["MINIO_ROOT_USER"],
		"VOXFLEET_MINIO_SECRET_KEY=" + sec["MINIO_ROOT_PASSWORD"], "VOXFLEET_MINIO_BUCKET=" + Bucket,
	}
	if lkOn {
		fleetEnv = append(fleetEnv, "VOXFLEET_LIVEKIT_URL=ws://"+c.addr(offLiveKit),
			"VOXFLEET_LIVEKIT_API_KEY="+sec["LIVEKIT_API_KEY"], "VOXFLEET_LIVEKIT_API_SECRET="+sec["LIVEKIT_API_SECRET"])
	}

	steps := []step{
		{
			name: "redis",
			part: Part{Name: "redis", URL: redisURL, Addr: c.addr(offRedis)},
			cmd: func() (*exec.Cmd, error) {
				bin, err := binary("redis-server")
				if err != nil {
					return nil, err
				}
				// Append-only persistence: refresh-token revocations and
				// login limits survive a restart of the stack.
				return exec.Command(bin, "--port", strconv.Itoa(c.PortBase+offRedis), "--bind", "127.0.0.1",
					"--dir", c.path("data"), "--appendonly", "yes", "--appenddirname", "redis-aof", "--save", ""), nil
			},
			ready: tcpOK(c.addr(offRedis)),
		},
		{
			name: "mongodb",
			part: Part{Name: "mongodb", URL: mongoURI, Addr: c.addr(offMongo)},
			cmd: func() (*exec.Cmd, error) {
				bin, err := binary("vox-ferretdb", filepath.Join(c.Root, ".cache", "vox-ferretdb"))
				if err != nil {
					return nil, err
				}
				return exec.Command(bin, "--listen", c.addr(offMongo), "--dir", c.path("data", "mongo")), nil
			},
			ready: tcpOK(c.addr(offMongo)),
		},
		{
			name: "minio",
			part: Part{Name: "minio", URL: s.url(offMinIO), Addr: c.addr(offMinIO),
				Health: s.url(offMinIO) + "/minio/health/ready"},
			cmd: func() (*exec.Cmd, error) {
				bin, err := binary("minio", filepath.Join(gopathBin(), "minio"))
				if err != nil {
					return nil, err
				}
				cmd := exec.Command(bin, "server", "--quiet", "--address", c.addr(offMinIO), c.path("data", "minio"))
				cmd.Env = env("MINIO_ROOT_USER="+sec["MINIO_ROOT_USER"], "MINIO_ROOT_PASSWORD="+sec["MINIO_ROOT_PASSWORD"],
					"MINIO_BROWSER=off", "MINIO_UPDATE=off")
				return cmd, nil
			},
			ready: httpOK(s.url(offMinIO) + "/minio/health/ready"),
			after: s.makeBucket,
		},
		{
			name: "livekit",
			part: Part{Name: "livekit", URL: "ws://" + c.addr(offLiveKit), Addr: c.addr(offLiveKit), Health: s.url(offLiveKit)},
			skip: func() string {
				if !lkOn {
					return "livekit-server is not installed (make deps installs it); LiveKit calls are off"
				}
				return ""
			},
			prepare: func(context.Context) error {
				return os.WriteFile(c.path("livekit.yaml"), []byte(s.livekitConfig(fleetURL)), 0o600)
			},
			cmd: func() (*exec.Cmd, error) {
				return exec.Command(lkBin, "--config", c.path("livekit.yaml")), nil
			},
			ready: httpOK(s.url(offLiveKit)),
		},
		{
			name: "voxbridge",
			part: Part{Name: "voxbridge", URL: s.url(offBridge), Addr: c.addr(offBridge), Health: s.url(offBridge) + "/health"},
			prepare: func(ctx context.Context) error {
				cmd := exec.CommandContext(ctx, filepath.Join(c.BinDir, "voxbridge"), "bootstrap",
					"--org", DevOrg, "--email", DevEmail)
				cmd.Env = env(bridgeEnv...)
				return runOnce(ctx, "bootstrap", c.path("logs"), cmd)
			},
			cmd: func() (*exec.Cmd, error) {
				cmd := exec.Command(filepath.Join(c.BinDir, "voxbridge"))
				cmd.Env = env(bridgeEnv...)
				return cmd, nil
			},
			ready: httpOK(s.url(offBridge) + "/health"),
			grace: 25 * time.Second,
		},
		{
			name: "nginx",
			part: Part{Name: "nginx", URL: s.url(offConsole), Addr: c.addr(offConsole)},
			prepare: func(context.Context) error {
				return s.writeNginx(upFile, consoleRoot)
			},
			cmd: func() (*exec.Cmd, error) {
				bin, err := binary("nginx")
				if err != nil {
					return nil, err
				}
				return exec.Command(bin, "-p", c.path("nginx"), "-c", c.path("nginx", "nginx.conf")), nil
			},
			ready: tcpOK(c.addr(offFleet)),
		},
		{
			name: "voxfleet",
			part: Part{Name: "voxfleet", URL: fleetURL, Addr: c.addr(offDaemon), Health: s.url(offDaemon) + "/health/fleet"},
			cmd: func() (*exec.Cmd, error) {
				nginxBin, err := binary("nginx")
				if err != nil {
					return nil, err
				}
				nx := nginxBin + " -p " + c.path("nginx") + " -c " + c.path("nginx", "nginx.conf")
				cmd := exec.Command(filepath.Join(c.BinDir, "voxfleet"), "run",
					"--workers", strconv.Itoa(c.Workers),
					"--socket-dir", c.path("run"),
					"--state-file", c.path("data", "fleet-state.json"),
					"--upstream-file", upFile,
					"--listen", c.addr(offDaemon),
					"--nginx-test", nx+" -t -q",
					"--nginx-reload", nx+" -s reload",
					"--stop-timeout", "20s",
					"--log-format", "text")
				cmd.Env = env(fleetEnv...)
				return cmd, nil
			},
			ready: func(ctx context.Context) error {
				if err := fleetReady(s.url(offDaemon) + "/health/fleet")(ctx); err != nil {
					return err
				}
				return routed(fleetURL + "/ws/twilio")(ctx)
			},
			grace: 30 * time.Second,
		},
		{
			name: "voxdialler",
			part: Part{Name: "voxdialler", URL: s.url(offDialler), Addr: c.addr(offDialler), Health: s.url(offDialler) + "/health"},
			skip: func() string {
				if !fileExists(dialBin) {
					return "bin/voxdialler is not built"
				}
				return ""
			},
			cmd: func() (*exec.Cmd, error) {
				cmd := exec.Command(dialBin)
				cmd.Env = env("MONGODB_URI="+mongoURI, "MONGODB_DATABASE=vox", "REDIS_URL="+redisURL,
					"VOX_SERVICE_SECRET="+sec["VOX_SERVICE_SECRET"], "BACKEND_URL="+s.url(offBridge),
					"HEALTH_PORT="+strconv.Itoa(c.PortBase+offDialler), "HEALTH_HOST=127.0.0.1",
					"DIALLER_PLACER=simulate")
				return cmd, nil
			},
			ready: httpOK(s.url(offDialler) + "/health"),
		},
	}
	return steps, nil
}

// makeBucket creates the recordings bucket unless it exists.
func (s *Stack) makeBucket(ctx context.Context) error {
	mc, err := minio.New(s.cfg.addr(offMinIO), &minio.Options{
		Creds: credentials.NewStaticV4(s.secrets["MINIO_ROOT_USER"], s.secrets["MINIO_ROOT_PASSWORD"], ""),
	})
	if err != nil {
		return err
	}
	ok, err := mc.BucketExists(ctx, Bucket)
	if err != nil || ok {
		return err
	}
	return mc.MakeBucket(ctx, Bucket, minio.MakeBucketOptions{})
}

// livekitConfig is livekit-server's configuration pinned to loopback, with
// the SIP API on (Redis) and the inbound-call webhook to the fleet.
func (s *Stack) livekitConfig(fleetURL string) string {
	c := s.cfg
	return fmt.Sprintf(`# written by voxdev
port: %d
bind_addresses: [127.0.0.1]
log_level: info
rtc:
  tcp_port: %d
  port_range_start: %d
  port_range_end: %d
  node_ip: 127.0.0.1
  use_external_ip: false
  enable_loopback_candidate: true
  stun_servers: [127.0.0.1:%d]
  interfaces:
    includes: [lo]
  ips:
    includes: [127.0.0.1/8]
redis:
  address: %s
keys:
  %s: %s
webhook:
  api_key: %s
  urls: [%s/livekit/dispatch]
`, c.PortBase+offLiveKit, c.PortBase+offRTCTCP, c.PortBase+offRTCFirst, c.PortBase+offRTCLast,
		c.PortBase+offRTCFirst, c.addr(offRedis),
		s.secrets["LIVEKIT_API_KEY"], s.secrets["LIVEKIT_API_SECRET"], s.secrets["LIVEKIT_API_KEY"], fleetURL)
}

// writeNginx writes one nginx with both shipped sites adapted to loopback:
// the API site (Console + API) and the fleet site, and the empty upstream
// file the fleet site includes until voxfleet renders it.
func (s *Stack) writeNginx(upFile, consoleRoot string) error {
	c := s.cfg
	if !fileExists(filepath.Join(consoleRoot, "index.html")) {
		// Without a Console build the API site still serves the API; a
		// placeholder page says how to get the Console.
		consoleRoot = c.path("console")
		if err := os.MkdirAll(consoleRoot, 0o755); err != nil {
			return err
		}
		page := "<!doctype html><title>Vox</title><p>The Console is not built: run <code>make console-build</code>, then reload.</p>\n"
		if err := os.WriteFile(filepath.Join(consoleRoot, "index.html"), []byte(page), 0o644); err != nil {
			return err
		}
	}
	api, err := deploy.LoopbackAPISite(deploy.Loopback{Listen: c.addr(offConsole), LogDir: c.path("logs"),
		API: c.addr(offBridge), Root: consoleRoot})
	if err != nil {
		return err
	}
	fleet, err := deploy.LoopbackFleetSite(deploy.Loopback{Listen: c.addr(offFleet), LogDir: c.path("logs"),
		UpstreamFile: upFile, Daemon: c.addr(offDaemon)})
	if err != nil {
		return err
	}
	if !fileExists(upFile) {
		if err := os.WriteFile(upFile, upstream.Render(upstream.Params{}), 0o644); err != nil {
			return err
		}
	}
	user := ""
	if os.Geteuid() == 0 {
		// Worker sockets and the Console live under this user's home.
		user = "user root;\n"
	}
	p := c.path("nginx")
	conf := fmt.Sprintf(`# written by voxdev
daemon off;
master_process on;
worker_processes 2;
%spid %s/nginx.pid;
error_log %s/nginx.error.log notice;
events { worker_connections 512; }
http {
    include %s;
    default_type application/octet-stream;
    access_log %s/nginx.access.log;
    client_body_temp_path %s/tmp/body;
    proxy_temp_path %s/tmp/proxy;
    fastcgi_temp_path %s/tmp/fastcgi;
    uwsgi_temp_path %s/tmp/uwsgi;
    scgi_temp_path %s/tmp/scgi;
    include %s/api.conf;
    include %s/fleet.conf;
}
`, user, p, c.path("logs"), mimeTypes(), c.path("logs"), p, p, p, p, p, p, p)
	for name, body := range map[string]string{"api.conf": api, "fleet.conf": fleet, "nginx.conf": conf} {
		if err := os.WriteFile(filepath.Join(p, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// mimeTypes is nginx's mime.types, so that the Console's files are served
// with their types.
func mimeTypes() string {
	for _, p := range []string{"/etc/nginx/mime.types", "/usr/local/nginx/conf/mime.types"} {
		if fileExists(p) {
			return p
		}
	}
	return "/etc/nginx/mime.types"
}

// printSummary says where everything is.
func (s *Stack) printSummary() {
	c := s.cfg
	w := s.out
	fmt.Fprintf(w, "\nThe platform is up (stack in %s, logs in %s):\n", c.Dir, c.path("logs"))
	fmt.Fprintf(w, "  Console + API   %s   (user %s, password in %s: VOXBRIDGE_BOOTSTRAP_PASSWORD)\n",
		s.url(offConsole), DevEmail, c.path("secrets.env"))
	fmt.Fprintf(w, "  voxbridge       %s/health\n", s.url(offBridge))
	fmt.Fprintf(w, "  fleet (nginx)   %s   fleet %q, %d workers; health %s/health/fleet\n", s.url(offFleet), DevFleetID, c.Workers, s.url(offDaemon))
	fmt.Fprintf(w, "  MinIO           %s   bucket %q\n", s.url(offMinIO), Bucket)
	for _, p := range s.state.Parts {
		switch p.Name {
		case "livekit":
			fmt.Fprintf(w, "  LiveKit         %s\n", p.URL)
		case "voxdialler":
			fmt.Fprintf(w, "  voxdialler      %s/health\n", p.URL)
		}
	}
	fmt.Fprintf(w, "\nPlace a test call:  make dev-call     Health of every part:  make dev-status\n")
	fmt.Fprintf(w, "Ctrl-C stops everything.\n")
}

// ErrNotRunning is returned by Status when no stack runs from the directory.
var ErrNotRunning = errors.New("no stack is running (start one with make dev)")
