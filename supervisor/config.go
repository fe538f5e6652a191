package supervisor

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/voxplatform/vox/control"
	"github.com/voxplatform/vox/restart"
)

// MaxWorkers bounds the desired worker count of one host.
const MaxWorkers = control.MaxWorkers

// maxSocketPath is the longest Unix socket path Linux accepts, minus the
// longest name the daemon puts in the socket directory.
const maxSocketPath = 107 - len("/.worker-1024.sock.new")

// Config is the daemon's configuration. Zero durations take the defaults
// below when the Config is passed through WithDefaults.
type Config struct {
	Workers      int           // initial desired count, used when no state file exists
	WorkerLimit  int           // the most workers this host may run (--max-workers); MaxWorkers when 0
	SocketDir    string        // worker sockets and control.sock
	StateFile    string        // where the desired count is kept across restarts
	Listen       string        // HTTP address of /health/fleet and /metrics
	UpstreamFile string        // the nginx upstream include voxfleet renders
	UpstreamName string        // name of the nginx upstream block
	NginxTest    string        // shell command that tests nginx's configuration; "" skips
	NginxReload  string        // shell command that reloads nginx; "" renders only
	SocketGroup  string        // group that may connect to worker sockets (nginx's); "" keeps the daemon's
	StopTimeout  time.Duration // on SIGTERM: how long calls may run before workers are killed
	KillGrace    time.Duration // between SIGTERM and SIGKILL when workers are stopped
	ReadyTimeout time.Duration // how long a new worker may take to answer /health
	ProbeEvery   time.Duration // liveness probe interval
	ProbeTimeout time.Duration // one probe's timeout (also /health/fleet's per-worker timeout)
	HungAfter    int           // consecutive failed probes after which a worker is hung
	HungGrace    time.Duration // how long a hung worker in a call is given before it is replaced
	DrainTimeout time.Duration // longest a draining worker may take before it is killed
	StopMode     string        // on SIGTERM: StopDrain or StopHandoff
	// HostStopping reports whether the whole host is shutting down; a
	// handoff then becomes a drain, since no next daemon will come. nil: never.
	HostStopping func() bool
	RecycleCalls int           // replace an idle worker after this many calls; 0 never
	RecycleRSS   int64         // replace an idle worker whose RSS exceeds this many bytes; 0 never
	CanaryPeriod time.Duration // how long the first upgraded worker must stay up before the roll goes on
	WorkerBinary string        // binary run as `BINARY worker …`; default: this executable
	WorkerArgs   []string      // extra arguments passed to every worker
	// InstallPath is where an operator installs new releases; `voxfleet
	// upgrade` takes the candidate from there. Default: this executable.
	InstallPath string
	// ReleaseDir keeps every release the daemon re-executed into and the
	// last-good link the unit starts ("" keeps none).
	ReleaseDir string
	Restart    restart.Policy
}

// Stop modes: what SIGTERM does with calls in progress.
const (
	// StopDrain waits up to StopTimeout for calls to end, then stops every
	// worker: nothing is left running when the daemon exits.
	StopDrain = "drain"
	// StopHandoff lets idle workers exit, leaves busy ones to finish their
	// calls on their own, and exits at once; the next daemon takes each index
	// back as its call ends. For `systemctl restart`.
	StopHandoff = "handoff"
)

// Defaults applied by WithDefaults.
const (
	DefaultSocketDir    = "/run/voxfleet"
	DefaultStateFile    = "/var/lib/voxfleet/state.json"
	DefaultListen       = "127.0.0.1:9180"
	DefaultUpstreamFile = "/etc/voxfleet/upstream.conf"
	DefaultUpstreamName = "voxfleet_workers"
	DefaultStopTimeout  = 10 * time.Minute
)

// WithDefaults returns c with every unset field given its default.
func (c Config) WithDefaults() Config {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.WorkerLimit == 0 {
		c.WorkerLimit = MaxWorkers
	}
	if c.UpstreamName == "" {
		c.UpstreamName = DefaultUpstreamName
	}
	set(&c.StopTimeout, DefaultStopTimeout)
	set(&c.KillGrace, 5*time.Second)
	set(&c.ReadyTimeout, 10*time.Second)
	set(&c.ProbeEvery, time.Second)
	set(&c.ProbeTimeout, 500*time.Millisecond)
	set(&c.HungGrace, 30*time.Second)
	set(&c.DrainTimeout, 2*time.Hour)
	set(&c.CanaryPeriod, 3*time.Second)
	if c.StopMode == "" {
		c.StopMode = StopDrain
	}
	if c.HungAfter == 0 {
		c.HungAfter = 3
	}
	if c.Restart == (restart.Policy{}) {
		c.Restart = restart.DefaultPolicy
	}
	return c
}

// Validate reports every bad setting at once, each naming its flag.
func (c Config) Validate() error {
	var errs []error
	bad := func(flag, format string, a ...any) {
		errs = append(errs, fmt.Errorf("--%s: %s", flag, fmt.Sprintf(format, a...)))
	}
	if c.WorkerLimit < 1 || c.WorkerLimit > MaxWorkers {
		bad("max-workers", "must be between 1 and %d, got %d", MaxWorkers, c.WorkerLimit)
	} else if c.Workers < 0 || c.Workers > c.WorkerLimit {
		bad("workers", "must be between 0 and --max-workers (%d), got %d", c.WorkerLimit, c.Workers)
	}
	switch {
	case c.SocketDir == "":
		bad("socket-dir", "is required")
	case !filepath.IsAbs(c.SocketDir):
		bad("socket-dir", "must be an absolute path, got %q", c.SocketDir)
	case len(c.SocketDir) > maxSocketPath:
		bad("socket-dir", "%q is too long for Unix socket paths (max %d bytes)", c.SocketDir, maxSocketPath)
	}
	if c.StateFile == "" {
		bad("state-file", "is required")
	}
	if c.Listen == "" {
		bad("listen", "is required")
	} else if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "%q is not host:port: %v", c.Listen, err)
	}
	if c.UpstreamFile == "" {
		bad("upstream-file", "is required")
	}
	if c.NginxReload != "" && c.NginxTest == "" {
		bad("nginx-test", "is required when --nginx-reload is set (a config is tested before nginx loads it)")
	}
	if c.StopMode != StopDrain && c.StopMode != StopHandoff {
		bad("stop-mode", "must be %q or %q, got %q", StopDrain, StopHandoff, c.StopMode)
	}
	if c.RecycleCalls < 0 {
		bad("recycle-after-calls", "must not be negative, got %d", c.RecycleCalls)
	}
	if c.RecycleRSS < 0 {
		bad("recycle-above-rss", "must not be negative")
	}
	if c.StopTimeout < 0 {
		bad("stop-timeout", "must not be negative, got %s", c.StopTimeout)
	}
	if c.WorkerBinary != "" {
		if st, err := os.Stat(c.WorkerBinary); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			bad("worker-binary", "%q is not an executable file", c.WorkerBinary)
		}
	}
	if c.InstallPath != "" {
		if st, err := os.Stat(c.InstallPath); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			bad("install-path", "%q is not an executable file", c.InstallPath)
		}
	}
	if c.ReleaseDir != "" && !filepath.IsAbs(c.ReleaseDir) {
		bad("release-dir", "must be an absolute path, got %q", c.ReleaseDir)
	}
	if err := c.Restart.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
