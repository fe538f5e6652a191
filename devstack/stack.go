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

	"github.com/voxplatform/vox/fleetapi"
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
	// also lists more parts served by the same process (the Console by
	// nginx), reported by `voxdev status` beside it.
	also []Part
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
	if err := cfg.portsFree(); err != nil {
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
		fmt.Fprintln(s.out, "stopping… (a call in progress finishes first; Ctrl-C again kills everything now)")
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
	for _, p := range st.also {
		p.PID = cmd.Process.Pid
		s.state.Parts = append(s.state.Parts, p)
	}
	fmt.Fprintf(s.out, "  %-10s ready in %4d ms  %s\n", st.name, time.Since(t0).Milliseconds(), st.part.URL)
	return nil
}

// stopAll stops the processes in reverse start order.
func (s *Stack) stopAll() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		p := s.procs[i]
		p.stop(p.grace, s.cfg.Force)
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
		var f fleetapi.Fleet
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
			fmt.Fprintf(w, "  voxdialler      %s/health   (simulated placer: no carrier here)\n", p.URL)
		}
	}
	fmt.Fprintf(w, "\nPlace a test call:  make dev-call     Health of every part:  make dev-status\n")
	fmt.Fprintf(w, "Ctrl-C stops everything.\n")
}

// ErrNotRunning is returned by Status when no stack runs from the directory.
var ErrNotRunning = errors.New("no stack is running (start one with make dev)")
