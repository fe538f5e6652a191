package upstream

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// harness is a Manager running against files in a temp dir, with commands
// that append to a counter file and fail while a flag file exists.
type harness struct {
	dir, file         string
	tests, reloads    string // counter files: one line per run
	failTest, failRel string // flag files: the command fails while present
	m                 *Manager
	reg               *prometheus.Registry
	done              chan error
	cancel            context.CancelFunc
}

func newHarness(t *testing.T, prev []byte, mutate func(*Config)) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{
		dir:      dir,
		file:     filepath.Join(dir, "upstream.conf"),
		tests:    filepath.Join(dir, "tests.count"),
		reloads:  filepath.Join(dir, "reloads.count"),
		failTest: filepath.Join(dir, "fail-test"),
		failRel:  filepath.Join(dir, "fail-reload"),
		reg:      prometheus.NewRegistry(),
	}
	if prev != nil {
		if err := os.WriteFile(h.file, prev, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{
		File: h.file,
		// The test command also saves what it saw, proving the new file is in
		// place while nginx tests it.
		TestCmd:   "cp " + h.file + " " + dir + "/seen.conf && echo t >> " + h.tests + " && if [ -e " + h.failTest + " ]; then echo 'nginx: [emerg] test says no' >&2; exit 1; fi",
		ReloadCmd: "echo r >> " + h.reloads + " && if [ -e " + h.failRel + " ]; then echo 'reload says no' >&2; exit 1; fi",
		Window:    50 * time.Millisecond,
		RetryMin:  time.Hour, // retries only when a test asks for them
	}
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := New(cfg, slog.New(slog.DiscardHandler), h.reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.m = m
	return h
}

func (h *harness) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan error, 1)
	go func() { h.done <- h.m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-h.done:
			if err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
}

func count(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\n")
}

func (h *harness) flag(t *testing.T, path string, on bool) {
	t.Helper()
	if on {
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) fileContent(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(h.file)
	if err != nil {
		t.Fatalf("read upstream file: %v", err)
	}
	return string(b)
}

func (h *harness) failures(stage Stage) float64 {
	return value(h.m.m.failures.WithLabelValues(string(stage)))
}

// settle gives the manager several windows in which it could act, to assert
// that it did not.
func (h *harness) settle() { time.Sleep(6 * h.m.cfg.Window) }

func socks(names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "/run/vf/" + n + ".sock"
	}
	return out
}

func TestManagerAppliesAtStartEvenIfFileExists(t *testing.T) {
	h := newHarness(t, Render(Params{Sockets: socks("a")}), nil)
	h.m.Update(socks("a"))
	h.start(t)
	waitFor(t, "initial apply", 5*time.Second, func() bool { return count(h.reloads) == 1 })
	// The reload command has run; the manager records the apply once it returned.
	waitFor(t, "initial apply recorded", 5*time.Second, func() bool { return value(h.m.m.reloads) == 1 })
	if got := h.m.Applied(); !slices.Equal(got, socks("a")) {
		t.Fatalf("Applied = %q", got)
	}
	if got := value(h.m.m.reloads); got != 1 {
		t.Fatalf("reloads_total = %v, want 1", got)
	}
}

func TestManagerCoalescesAndSkipsUnchanged(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.start(t)
	waitFor(t, "initial apply of the empty set", 5*time.Second, func() bool { return count(h.reloads) == 1 })
	if got := h.fileContent(t); !strings.Contains(got, PlaceholderSocket+" down;") {
		t.Fatalf("empty set rendered without placeholder:\n%s", got)
	}

	// Ten rapid updates, as when ten workers come up one after another.
	var last []string
	for i := 1; i <= 10; i++ {
		last = workerSockets("/run/vf", i, false)
		h.m.Update(last)
	}
	waitFor(t, "the last set applied", 5*time.Second, func() bool { return slices.Equal(h.m.Applied(), last) })
	h.settle()
	if got := count(h.reloads); got != 2 {
		t.Fatalf("reloads after 10 rapid updates = %d, want 2 (start + one coalesced)", got)
	}
	if got := h.fileContent(t); got != string(Render(Params{Sockets: last})) {
		t.Fatalf("file is not the rendering of the last set:\n%s", got)
	}

	// The same set in another order, with duplicates: nothing to do.
	again := slices.Clone(last)
	slices.Reverse(again)
	h.m.Update(append(again, again[0]))
	h.settle()
	if got := count(h.reloads); got != 2 {
		t.Fatalf("reloads after an unchanged update = %d, want 2", got)
	}
	if got := count(h.tests); got != 2 {
		t.Fatalf("tests after an unchanged update = %d, want 2", got)
	}

	// A worker restart that ends with the same socket set: no reload either.
	h.m.Update(last[:9])
	h.m.Update(last)
	h.settle()
	if got := count(h.reloads); got != 2 {
		t.Fatalf("reloads after a worker left and came back within the window = %d, want 2", got)
	}

	if got := value(h.m.m.servers); got != 10 {
		t.Fatalf("voxfleet_upstream_servers = %v, want 10", got)
	}
	if got := value(h.m.m.reloads); got != 2 {
		t.Fatalf("voxfleet_nginx_reloads_total = %v, want 2", got)
	}
	if got := value(h.m.m.lastSuccess); got != 1 {
		t.Fatalf("voxfleet_nginx_last_reload_success = %v, want 1", got)
	}
}

func TestManagerRestoresOnTestFailure(t *testing.T) {
	h := newHarness(t, []byte("# hand-written before voxfleet\n"), nil)
	h.m.Update(socks("a"))
	h.start(t)
	waitFor(t, "initial apply", 5*time.Second, func() bool { return count(h.reloads) == 1 })
	good := string(Render(Params{Sockets: socks("a")}))

	h.flag(t, h.failTest, true)
	h.m.Update(socks("a", "b"))
	waitFor(t, "a failed test", 5*time.Second, func() bool { return h.failures(StageTest) == 1 })
	if seen, _ := os.ReadFile(filepath.Join(h.dir, "seen.conf")); !strings.Contains(string(seen), "b.sock") {
		t.Fatalf("the test command did not see the new file:\n%s", seen)
	}
	if got := h.fileContent(t); got != good {
		t.Fatalf("file not restored after a failed test:\n%s", got)
	}
	if got := count(h.reloads); got != 1 {
		t.Fatalf("nginx reloaded after a failed test: %d reloads", got)
	}
	if got := h.m.Applied(); !slices.Equal(got, socks("a")) {
		t.Fatalf("Applied = %q, want the old set", got)
	}
	if got := value(h.m.m.lastSuccess); got != 0 {
		t.Fatalf("voxfleet_nginx_last_reload_success = %v, want 0", got)
	}
	if got := value(h.m.m.servers); got != 1 {
		t.Fatalf("voxfleet_upstream_servers = %v, want 1 (the old set)", got)
	}

	// The next update retries, even with the same set that failed.
	h.flag(t, h.failTest, false)
	h.m.Update(socks("b", "a"))
	waitFor(t, "the retried set applied", 5*time.Second, func() bool { return slices.Equal(h.m.Applied(), socks("a", "b")) })
	if got := value(h.m.m.lastSuccess); got != 1 {
		t.Fatalf("voxfleet_nginx_last_reload_success = %v, want 1", got)
	}
	if got := value(h.m.m.servers); got != 2 {
		t.Fatalf("voxfleet_upstream_servers = %v, want 2", got)
	}
	if got := h.failures(StageTest); got != 1 {
		t.Fatalf("test failures = %v, want 1", got)
	}
}

// TestManagerKeepsTestedFileOnReloadFailure: nginx accepted the new file but
// could not be reloaded (it is not running, say). The file stays, for nginx
// to read when it starts; the applied set is still the old one, State says
// why, and the retry applies it once the reload works.
func TestManagerKeepsTestedFileOnReloadFailure(t *testing.T) {
	h := newHarness(t, nil, func(c *Config) { c.RetryMin, c.RetryMax = 50*time.Millisecond, 100*time.Millisecond })
	h.m.Update(socks("a"))
	h.start(t)
	waitFor(t, "initial apply", 5*time.Second, func() bool { return count(h.reloads) == 1 })

	h.flag(t, h.failRel, true)
	h.m.Update(socks("a", "b"))
	waitFor(t, "a failed reload", 5*time.Second, func() bool { return h.failures(StageReload) >= 1 })
	if got, want := h.fileContent(t), string(Render(Params{Sockets: socks("a", "b")})); got != want {
		t.Fatalf("the tested file was not kept after a failed reload:\n%s", got)
	}
	st := h.m.State()
	if !slices.Equal(st.Applied, socks("a")) || st.Current || st.Err == nil || !strings.Contains(st.Err.Error(), "reload says no") {
		t.Fatalf("State = %+v, want the old set applied, not current, with the reload's error", st)
	}
	if got := value(h.m.m.reloads); got != 1 {
		t.Fatalf("reloads_total = %v, want 1", got)
	}
	// No new Update: the retry applies the kept file once nginx reloads.
	h.flag(t, h.failRel, false)
	waitFor(t, "the retried reload", 5*time.Second, func() bool { return h.m.State().Current })
	if st := h.m.State(); !slices.Equal(st.Applied, socks("a", "b")) || st.Err != nil {
		t.Fatalf("State after recovery = %+v", st)
	}
}

func TestManagerRemovesFileWhenNoneExistedAndRetriesAfterBackoff(t *testing.T) {
	h := newHarness(t, nil, func(c *Config) { c.RetryMin, c.RetryMax = 50*time.Millisecond, 100*time.Millisecond })
	h.flag(t, h.failTest, true)
	h.m.Update(socks("a"))
	h.start(t)
	waitFor(t, "two failed tests (start and one retry)", 5*time.Second, func() bool { return h.failures(StageTest) >= 2 })
	if _, err := os.Stat(h.file); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("upstream file left behind after failed tests: %v", err)
	}
	if h.m.Applied() != nil {
		t.Fatalf("Applied = %q after failures only", h.m.Applied())
	}
	// No new Update: the backoff retry alone applies it once nginx agrees.
	h.flag(t, h.failTest, false)
	waitFor(t, "the retry after backoff", 5*time.Second, func() bool { return slices.Equal(h.m.Applied(), socks("a")) })
	n := count(h.tests)
	h.settle()
	if got := count(h.tests); got != n {
		t.Fatalf("kept retrying after success: %d tests, then %d", n, got)
	}
}

func TestManagerRejectsInvalidSockets(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.m.Update(socks("a"))
	h.start(t)
	waitFor(t, "initial apply", 5*time.Second, func() bool { return count(h.reloads) == 1 })
	good := h.fileContent(t)
	h.m.Update([]string{"relative.sock"})
	waitFor(t, "a validation failure", 5*time.Second, func() bool { return h.failures(StageValidate) == 1 })
	if got := h.fileContent(t); got != good {
		t.Fatalf("file changed by an invalid set:\n%s", got)
	}
	if count(h.tests) != 1 {
		t.Fatal("nginx tested an invalid set")
	}
}

// lockedBuffer is a log sink safe for the manager's goroutine and the test.
type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestManagerRenderOnly(t *testing.T) {
	h := newHarness(t, nil, func(c *Config) { c.TestCmd, c.ReloadCmd = "", "" })
	var logs lockedBuffer
	h.m.logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.m.Update(socks("a", "b"))
	h.start(t)
	waitFor(t, "apply", 5*time.Second, func() bool { return slices.Equal(h.m.Applied(), socks("a", "b")) })
	waitFor(t, "the write logged", 5*time.Second, func() bool { return strings.Contains(logs.String(), "upstream file written") })
	if strings.Contains(logs.String(), "nginx upstream applied") {
		t.Fatalf("logged an nginx apply with no reload command:\n%s", logs.String())
	}
	if got := h.fileContent(t); got != string(Render(Params{Sockets: socks("a", "b")})) {
		t.Fatalf("file:\n%s", got)
	}
	if count(h.tests)+count(h.reloads) != 0 {
		t.Fatal("commands ran with TestCmd and ReloadCmd empty")
	}
	if got := value(h.m.m.reloads); got != 0 {
		t.Fatalf("voxfleet_nginx_reloads_total = %v with no reload command, want 0", got)
	}
	if st := h.m.State(); !st.Current || st.Err != nil {
		t.Fatalf("State = %+v, want the written set current", st)
	}
}

func TestApplyCommandErrors(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		stage   Stage
		wantMsg string
	}{
		{"test output in error", Config{TestCmd: "echo 'nginx: [emerg] unknown directive' >&2; exit 1"}, StageTest, "unknown directive"},
		{"reload output in error", Config{ReloadCmd: "echo 'kill failed: no such process'; false"}, StageReload, "no such process"},
		{"test timeout", Config{TestCmd: "sleep 30", CmdTimeout: 200 * time.Millisecond}, StageTest, "deadline exceeded"},
		{"hung grandchild", Config{ReloadCmd: "sleep 30 & sleep 30", CmdTimeout: 200 * time.Millisecond}, StageReload, "deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.File = filepath.Join(t.TempDir(), "u.conf")
			m, err := New(tt.cfg, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = m.apply(context.Background(), socks("a"))
			if took := time.Since(start); took > 5*time.Second {
				t.Fatalf("apply took %s", took)
			}
			var ae *ApplyError
			var ce *CommandError
			if !errors.As(err, &ae) || ae.Stage != tt.stage || !errors.As(err, &ce) {
				t.Fatalf("apply = %v, want a CommandError at stage %s", err, tt.stage)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %q lacks %q", err, tt.wantMsg)
			}
			// A failed test removes the file it wrote; after a failed reload
			// the tested file stays for nginx's next start.
			_, err = os.Stat(tt.cfg.File)
			if kept := err == nil; kept != (tt.stage == StageReload) {
				t.Fatalf("file after a failed %s: stat err %v", tt.stage, err)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no file", Config{}},
		{"bad name", Config{File: "/tmp/x", Name: "a b"}},
		{"bad zone", Config{File: "/tmp/x", ZoneSize: "lots"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg, nil, nil); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
	reg := prometheus.NewRegistry()
	if _, err := New(Config{File: "/tmp/x"}, nil, reg); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{File: "/tmp/y"}, nil, reg); err == nil {
		t.Fatal("registering the metrics twice on one registry succeeded")
	}
}

func TestMetricsExposed(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.m.Update(socks("a", "b", "c"))
	h.start(t)
	waitFor(t, "apply", 5*time.Second, func() bool { return count(h.reloads) == 1 })
	// The reload command has run; the metrics follow once it has returned.
	waitFor(t, "metrics of the apply", 5*time.Second, func() bool {
		return gathered(t, h.reg)["voxfleet_nginx_reload_duration_seconds_count"] == 1
	})
	want := map[string]float64{
		"voxfleet_nginx_last_reload_success":                     1,
		`voxfleet_nginx_reload_failures_total{stage="validate"}`: 0,
		`voxfleet_nginx_reload_failures_total{stage="write"}`:    0,
		`voxfleet_nginx_reload_failures_total{stage="test"}`:     0,
		`voxfleet_nginx_reload_failures_total{stage="reload"}`:   0,
		"voxfleet_nginx_reloads_total":                           1,
		"voxfleet_upstream_servers":                              3,
		"voxfleet_nginx_reload_duration_seconds_count":           1,
	}
	got := gathered(t, h.reg)
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if ts := got["voxfleet_nginx_last_reload_success_timestamp_seconds"]; ts < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("voxfleet_nginx_last_reload_success_timestamp_seconds = %v, want about now", ts)
	}
}

// value reads the current value of a counter or gauge.
func value(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

// gathered returns every series of reg keyed by name{labels}, histograms by
// name_count.
func gathered(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			if len(m.GetLabel()) > 0 {
				var ls []string
				for _, l := range m.GetLabel() {
					ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
				}
				name += "{" + strings.Join(ls, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[name] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[name] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[name+"_count"] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.conf")
	for _, content := range []string{"one\n", "two\n"} {
		if err := WriteFileAtomic(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != content {
			t.Fatalf("content %q, want %q", b, content)
		}
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, %v; want 0644", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temp files left behind: %v", entries)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "f"), nil, 0o644); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}
