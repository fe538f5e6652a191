package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for the zero values of Config.
const (
	DefaultWindow     = 200 * time.Millisecond
	DefaultCmdTimeout = 30 * time.Second
	DefaultRetryMin   = time.Second
	DefaultRetryMax   = 30 * time.Second
)

// Config says where the upstream file lives and how nginx is tested and
// reloaded.
type Config struct {
	// File is the include file nginx reads. Its directory must exist.
	File string
	// Name is the upstream name; DefaultName when empty.
	Name string
	// ZoneSize is the shared-memory zone size; DefaultZoneSize when empty.
	ZoneSize string
	// TestCmd checks the whole nginx configuration, e.g. "nginx -t -q". It runs
	// through sh -c; empty skips the test.
	TestCmd string
	// ReloadCmd makes nginx load the new file, e.g. "nginx -s reload". It runs
	// through sh -c; empty skips the reload (render only).
	ReloadCmd string
	// Window is how long updates are coalesced before one apply;
	// DefaultWindow when zero.
	Window time.Duration
	// CmdTimeout bounds each command; DefaultCmdTimeout when zero.
	CmdTimeout time.Duration
	// RetryMin is the first delay before a failed apply is retried without a
	// new update; it doubles up to RetryMax. Defaults DefaultRetryMin and
	// DefaultRetryMax.
	RetryMin, RetryMax time.Duration
}

// Stage names the step of an apply that failed; it is the "stage" label of
// voxfleet_nginx_reload_failures_total.
type Stage string

// The stages of an apply, in order.
const (
	StageValidate Stage = "validate"
	StageWrite    Stage = "write"
	StageTest     Stage = "test"
	StageReload   Stage = "reload"
)

// ApplyError is a failed apply: the stage that failed and why. When the
// previous file could not be restored either, Restore holds that error.
type ApplyError struct {
	Stage   Stage
	Err     error
	Restore error
}

func (e *ApplyError) Error() string {
	msg := fmt.Sprintf("upstream %s: %v", e.Stage, e.Err)
	if e.Restore != nil {
		msg += fmt.Sprintf(" (restoring previous file also failed: %v)", e.Restore)
	}
	return msg
}

func (e *ApplyError) Unwrap() error { return e.Err }

// Brief says what failed in a sentence for an operator: the stage and, for
// a command, its output (or how it ended) without the command line.
func (e *ApplyError) Brief() string {
	var ce *CommandError
	if errors.As(e.Err, &ce) {
		why := strings.TrimSpace(ce.Output)
		if why == "" {
			why = ce.Err.Error()
		}
		return fmt.Sprintf("nginx %s failed: %s", e.Stage, why)
	}
	return e.Error()
}

// CommandError is a test or reload command that failed or timed out, with
// its combined output.
type CommandError struct {
	Cmd    string
	Output string
	Err    error
}

func (e *CommandError) Error() string {
	out := strings.TrimSpace(e.Output)
	if out == "" {
		return fmt.Sprintf("run %q: %v", e.Cmd, e.Err)
	}
	return fmt.Sprintf("run %q: %v: %s", e.Cmd, e.Err, out)
}

func (e *CommandError) Unwrap() error { return e.Err }

// Manager keeps the nginx upstream file in step with the live worker sockets.
// Update may be called from any goroutine; Run does the work.
type Manager struct {
	cfg    Config
	logger *slog.Logger
	m      *metrics
	wake   chan struct{} // capacity 1: "latest changed"

	mu        sync.Mutex // guards the fields below
	latest    []string   // normalized set last passed to Update
	applied   []string   // normalized set last applied successfully
	appliedOK bool       // whether any apply has succeeded yet
	lastErr   error      // the last apply's error; nil after a success
}

// State is what the Manager knows of the set nginx routes to.
type State struct {
	// Applied is the set last applied successfully (sorted): with a reload
	// command configured, the sockets nginx routes to.
	Applied []string
	// Current is true when the latest set passed to Update is applied.
	Current bool
	// Err is why the last apply failed; nil when it succeeded. While it is
	// set, nginx routes to Applied, not to the latest set.
	Err error
}

// New checks cfg, fills in defaults and registers the metrics on reg (nil
// registers nothing).
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Manager, error) {
	if cfg.File == "" {
		return nil, errors.New("upstream: file is required")
	}
	if err := Validate(Params{Name: cfg.Name, ZoneSize: cfg.ZoneSize}); err != nil {
		return nil, err
	}
	cfg.Name = cmpOr(cfg.Name, DefaultName)
	cfg.ZoneSize = cmpOr(cfg.ZoneSize, DefaultZoneSize)
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.CmdTimeout <= 0 {
		cfg.CmdTimeout = DefaultCmdTimeout
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = DefaultRetryMin
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = max(DefaultRetryMax, cfg.RetryMin)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := newMetrics()
	if reg != nil {
		if err := m.register(reg); err != nil {
			return nil, fmt.Errorf("upstream: register metrics: %w", err)
		}
	}
	return &Manager{
		cfg:    cfg,
		logger: logger.With("component", "upstream"),
		m:      m,
		wake:   make(chan struct{}, 1),
	}, nil
}

// Update records the latest set of live worker sockets. It never blocks;
// only the latest set matters, and Run applies it after the coalescing
// window if it differs from the set last applied.
func (m *Manager) Update(sockets []string) {
	set := Normalize(sockets)
	m.mu.Lock()
	m.latest = set
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Applied returns the set of sockets last applied successfully, sorted.
func (m *Manager) Applied() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.applied)
}

// State reports the applied set and whether the latest one is applied.
func (m *Manager) State() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return State{
		Applied: slices.Clone(m.applied),
		Current: m.appliedOK && slices.Equal(m.latest, m.applied),
		Err:     m.lastErr,
	}
}

// Run applies the current set once, then applies every change passed to
// Update until ctx ends. A failed apply keeps the previous file and set and
// is retried on the next Update or after a backoff. Run returns nil when ctx
// ends.
func (m *Manager) Run(ctx context.Context) error {
	retry := time.NewTimer(time.Hour)
	retry.Stop() // since Go 1.23 a stopped timer delivers nothing stale
	defer retry.Stop()
	delay := m.cfg.RetryMin

	attempt := func(force bool) {
		err := m.applyIfChanged(ctx, force)
		switch {
		case err == nil:
			delay = m.cfg.RetryMin
			retry.Stop()
		case ctx.Err() != nil:
		default:
			m.logger.Warn("nginx upstream not applied; will retry", "err", err, "retry_in", delay)
			retry.Reset(delay)
			delay = min(2*delay, m.cfg.RetryMax)
		}
	}

	attempt(true)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-retry.C:
			attempt(false)
		case <-m.wake:
			window := time.NewTimer(m.cfg.Window)
			select {
			case <-ctx.Done():
				window.Stop()
				return nil
			case <-window.C:
			}
			select { // updates that arrived during the window are included
			case <-m.wake:
			default:
			}
			attempt(false)
		}
	}
}

// applyIfChanged applies the latest set when force is set, when nothing has
// been applied yet, or when it differs from the applied set.
func (m *Manager) applyIfChanged(ctx context.Context, force bool) error {
	m.mu.Lock()
	set := slices.Clone(m.latest)
	same := m.appliedOK && slices.Equal(set, m.applied)
	m.mu.Unlock()
	if same && !force {
		return nil
	}
	start := time.Now()
	err := m.apply(ctx, set)
	m.m.duration.Observe(time.Since(start).Seconds())
	if err != nil {
		var ae *ApplyError
		stage := StageWrite
		if errors.As(err, &ae) {
			stage = ae.Stage
		}
		m.m.failures.WithLabelValues(string(stage)).Inc()
		m.m.lastSuccess.Set(0)
		m.mu.Lock()
		m.lastErr = err
		m.mu.Unlock()
		kept := "previous file restored"
		if stage == StageReload {
			kept = "tested file kept for nginx's next start or reload"
		}
		m.logger.Error("apply nginx upstream", "file", m.cfg.File, "stage", string(stage), "servers", len(set),
			"file_state", kept, "err", err)
		return err
	}
	m.mu.Lock()
	m.applied = set
	m.appliedOK = true
	m.lastErr = nil
	m.mu.Unlock()
	m.m.lastSuccess.Set(1)
	m.m.lastSuccessTime.SetToCurrentTime()
	m.m.servers.Set(float64(len(set)))
	if m.cfg.ReloadCmd == "" {
		m.logger.Debug("upstream file written; no nginx reload command configured", "file", m.cfg.File, "servers", len(set))
		return nil
	}
	m.m.reloads.Inc()
	m.logger.Info("nginx upstream applied", "file", m.cfg.File, "servers", len(set), "duration", time.Since(start).String())
	return nil
}

// apply writes the file for set, tests it and reloads nginx. When the test
// fails the previous file is restored. When only the reload fails the new
// file stays: nginx accepted it, and it is what nginx must read when it
// starts (it may not be running at all); the apply is retried.
func (m *Manager) apply(ctx context.Context, set []string) error {
	p := Params{Name: m.cfg.Name, ZoneSize: m.cfg.ZoneSize, Sockets: set}
	if err := Validate(p); err != nil {
		return &ApplyError{Stage: StageValidate, Err: err}
	}
	prev, err := os.ReadFile(m.cfg.File)
	hadPrev := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &ApplyError{Stage: StageWrite, Err: fmt.Errorf("read previous %q: %w", m.cfg.File, err)}
	}
	if err := WriteFileAtomic(m.cfg.File, Render(p), 0o644); err != nil {
		return &ApplyError{Stage: StageWrite, Err: err}
	}
	restore := func() error {
		if hadPrev {
			return WriteFileAtomic(m.cfg.File, prev, 0o644)
		}
		if err := os.Remove(m.cfg.File); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %q: %w", m.cfg.File, err)
		}
		return nil
	}
	for _, step := range []struct {
		stage Stage
		cmd   string
	}{{StageTest, m.cfg.TestCmd}, {StageReload, m.cfg.ReloadCmd}} {
		if step.cmd == "" {
			continue
		}
		if err := runCommand(ctx, step.cmd, m.cfg.CmdTimeout); err != nil {
			if step.stage == StageReload {
				return &ApplyError{Stage: step.stage, Err: err}
			}
			return &ApplyError{Stage: step.stage, Err: err, Restore: restore()}
		}
	}
	return nil
}

// runCommand runs cmd through sh -c in its own process group, killed as a
// group when timeout passes or ctx ends.
func runCommand(ctx context.Context, cmd string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := exec.CommandContext(ctx, "/bin/sh", "-c", cmd)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = 2 * time.Second
	var out bytes.Buffer
	c.Stdout = &out
	c.Stderr = &out
	err := c.Run()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return &CommandError{Cmd: cmd, Output: tail(out.String(), 4096), Err: err}
	}
	return nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// WriteFileAtomic replaces path with data so that a reader sees either the
// old or the new content, never a mix: a temporary file in the same
// directory is written, synced and renamed over path, then the directory is
// synced.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %q: %w", tmp, err)
	}
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("chmod %q: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %q: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %q: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %q to %q: %w", tmp, path, err)
	}
	ok = true
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %q: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %q: %w", dir, err)
	}
	return nil
}
