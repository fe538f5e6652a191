package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/voxplatform/vox/control"
	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/plainbody"
	"github.com/voxplatform/vox/restart"
	"github.com/voxplatform/vox/sdnotify"
)

// Upstream is what the daemon needs from the nginx upstream manager: it is
// told the routable socket set and applies it in its own time.
type Upstream interface {
	Update(sockets []string)
	Run(ctx context.Context) error
}

// errStopped is returned by calls into a loop that has ended.
var errStopped = errors.New("voxfleet is stopping")

// Supervisor is the daemon. Create it with New and start it with Run.
type Supervisor struct {
	cfg     Config
	log     *slog.Logger
	version string
	gid     int
	reg     *prometheus.Registry
	m       *metrics
	up      Upstream
	health  *healthClient

	ops      chan func()   // closures run by the loop, which owns every field below
	loopDone chan struct{} // closed when the loop has returned

	slots   map[int]*slot
	desired int
	binary  string // what new workers run: cfg.WorkerBinary, or the previous release after a failed upgrade
	exePath string // the daemon's own binary on disk, re-executed by an upgrade
	// workerDefault: no worker binary was configured; workers run exePath.
	workerDefault bool
	ctlLn         net.Listener
	httpLn        net.Listener
	lastRoll      *fleetapi.Rollout // the last rollout that finished
	stopping      bool
	// handoffOver: the handoff grace has passed; busy workers are left behind.
	handoffOver bool
	roll        *rollout
	upgrading   bool // an upgrade is checking its candidate, before the re-exec
	notified    bool // READY=1 sent
	// desiredFrom says where the desired count at start came from; written
	// before the control socket serves, read by DesiredFrom from any goroutine.
	desiredFrom string
	fromReady   atomic.Pointer[string]
	lastSet     []string
}

// slot is one index of the fleet and the processes on it.
type slot struct {
	index   int
	path    string
	ln      *net.UnixListener // the daemon's copy of the listener path names; nil when nothing is bound
	cur     *proc             // the worker serving path
	next    *proc             // a replacement starting on nextPath
	retired []*proc           // replaced workers finishing their calls
	tracker *restart.Tracker

	restarts     int
	calls        int  // calls ended on this index, whichever worker served them
	retiring     bool // scaled down: removed once its worker exits
	stopped      bool // drained by an operator
	failed       bool
	reason       string
	backoffUntil time.Time
	timer        *time.Timer
	held         bool // path answered by a worker of an earlier daemon
	heldPID      int
	heldCall     string
	respawn      bool // cur was started on the kept listener after a crash
	nextFailed   string
	recycling    string // why sl.next was started by the daemon itself ("" for a restart)
}

// New builds a daemon from cfg (after WithDefaults and Validate). reg
// receives the daemon's metrics; up applies the nginx upstream.
func New(cfg Config, logger *slog.Logger, reg *prometheus.Registry, up Upstream, version string) (*Supervisor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	workerDefault := cfg.WorkerBinary == ""
	if workerDefault {
		cfg.WorkerBinary = exe
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	gid, err := lookupGroup(cfg.SocketGroup)
	if err != nil {
		return nil, err
	}
	exePath := exe
	if cfg.InstallPath != "" {
		exePath = cfg.InstallPath
	}
	return &Supervisor{
		cfg:           cfg,
		log:           logger,
		version:       version,
		gid:           gid,
		reg:           reg,
		m:             newMetrics(reg, version),
		up:            up,
		health:        newHealthClient(),
		ops:           make(chan func(), 1024),
		loopDone:      make(chan struct{}),
		slots:         map[int]*slot{},
		binary:        cfg.WorkerBinary,
		exePath:       exePath,
		workerDefault: workerDefault,
	}, nil
}

// post queues fn to run on the loop; it is dropped once the loop has ended.
func (s *Supervisor) post(fn func()) {
	select {
	case s.ops <- fn:
	case <-s.loopDone:
	}
}

// call runs fn on the loop and waits for it.
func (s *Supervisor) call(ctx context.Context, fn func()) error {
	done := make(chan struct{})
	select {
	case s.ops <- func() { fn(); close(done) }:
	case <-s.loopDone:
		return errStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-s.loopDone:
		return errStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run starts the fleet and serves until ctx ends; then it stops taking
// calls, lets calls finish for up to StopTimeout, stops every worker and
// removes its sockets. It returns an error only when the daemon could not
// start.
func (s *Supervisor) Run(ctx context.Context) error {
	ctlLn, httpLn, upgrade, err := s.start()
	if err != nil {
		return err
	}
	s.ctlLn, s.httpLn = ctlLn, httpLn

	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	goFn := func(name string, fn func()) {
		wg.Add(1)
		go func() { defer wg.Done(); fn() }()
	}
	goFn("upstream", func() {
		if err := s.up.Run(bg); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Error("upstream manager stopped", "err", err)
		}
	})
	// net/http never inflates a body; plainbody still refuses coded ones so
	// that every server of the fleet answers them alike.
	httpSrv := &http.Server{Handler: plainbody.Wrap(s.httpHandler()), ReadHeaderTimeout: 5 * time.Second}
	goFn("http", func() { _ = httpSrv.Serve(httpLn) })
	ctlSrv := &http.Server{Handler: plainbody.Wrap(s.controlHandler()), ReadHeaderTimeout: 5 * time.Second}
	goFn("control", func() { _ = ctlSrv.Serve(ctlLn) })
	goFn("prober", func() { s.probeLoop(bg) })
	if iv := sdnotify.WatchdogInterval(); iv > 0 {
		goFn("watchdog", func() { s.watchdog(bg, iv) })
	}

	if s.desiredFrom == "" {
		s.desiredFrom = "handed over by the previous daemon image"
	}
	from := s.desiredFrom
	s.fromReady.Store(&from)
	s.log.Info("voxfleet started", "workers", s.desired, "workers_from", s.desiredFrom, "state_file", s.cfg.StateFile, "socket_dir", s.cfg.SocketDir,
		"listen", httpLn.Addr().String(), "upstream_file", s.cfg.UpstreamFile, "version", s.version)
	if upgrade != nil {
		s.post(func() { s.beginUpgradeRoll(upgrade) })
	}
	s.loop(ctx)

	// Shutdown order: the loop has stopped every worker; now stop probing,
	// close the control and HTTP servers, then the upstream manager.
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = ctlSrv.Shutdown(shutCtx)
	_ = httpSrv.Shutdown(shutCtx)
	stopBG()
	wg.Wait()
	os.Remove(filepath.Join(s.cfg.SocketDir, control.SocketName))
	s.log.Info("voxfleet stopped")
	return nil
}

// start binds the daemon's sockets and loads its state, or adopts them
// from the daemon this process was before an upgrade re-executed it.
func (s *Supervisor) start() (ctlLn, httpLn net.Listener, upgrade *handoverUpgrade, err error) {
	if ho, err := takeHandover(); err != nil || ho != nil {
		if err != nil {
			s.fallBack(ho, err) // returns only when falling back is impossible
			return nil, nil, nil, err
		}
		ctlLn, httpLn, err := s.adopt(ho)
		if err != nil {
			s.fallBack(ho, err) // returns only when falling back is impossible
			return nil, nil, nil, fmt.Errorf("adopt the previous daemon's state: %w", err)
		}
		return ctlLn, httpLn, ho.Upgrade, nil
	}
	if err := prepareDir(s.cfg.SocketDir, s.gid); err != nil {
		return nil, nil, nil, err
	}
	s.ensureLastGood()
	ctlLn, err = s.listenControl()
	if err != nil {
		return nil, nil, nil, err
	}
	httpLn, err = net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		ctlLn.Close()
		return nil, nil, nil, fmt.Errorf("listen %s: %w", s.cfg.Listen, err)
	}
	if err := s.loadDesired(); err != nil {
		ctlLn.Close()
		httpLn.Close()
		return nil, nil, nil, err
	}
	return ctlLn, httpLn, nil, nil
}

// listenControl binds control.sock (mode 0600), refusing to start when
// another daemon answers on it.
func (s *Supervisor) listenControl() (net.Listener, error) {
	path := filepath.Join(s.cfg.SocketDir, control.SocketName)
	if err := probeSocket(path); err == nil {
		return nil, fmt.Errorf("another voxfleet daemon is running: %s answers", path)
	} else if !isStale(err) {
		return nil, fmt.Errorf("probe %s: %w", path, err)
	}
	os.Remove(path)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("bind control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chmod control socket: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	return ln, nil
}

// loadDesired takes the desired count from the state file when there is a
// usable one, otherwise from the configuration, and records it. A count
// above the limit is clamped to it; an unusable file is reported and moved
// aside, and the daemon starts with the configured count rather than not
// at all.
func (s *Supervisor) loadDesired() error {
	p, clamped, err := loadState(s.cfg.StateFile, s.cfg.WorkerLimit)
	var se *StateError
	switch {
	case err == nil && clamped > 0:
		s.log.Warn("desired worker count in state file above the maximum; clamped", "state_file", s.cfg.StateFile,
			"asked", clamped, "desired", p.Desired, "max_workers", s.cfg.WorkerLimit)
		s.desired, s.desiredFrom = p.Desired, "state file (clamped to --max-workers)"
		return saveState(s.cfg.StateFile, persisted{Desired: s.desired})
	case err == nil:
		if p.Desired != s.cfg.Workers {
			s.log.Info("desired worker count taken from state file", "desired", p.Desired,
				"configured", s.cfg.Workers, "state_file", s.cfg.StateFile)
		}
		s.desired, s.desiredFrom = p.Desired, "state file "+s.cfg.StateFile+
			" (kept from the last 'voxfleet scale'; --workers applies only without one)"
		return nil
	case errors.As(err, &se):
		bad, mvErr := moveAside(s.cfg.StateFile, time.Now())
		if mvErr != nil {
			return fmt.Errorf("%w; %w", err, mvErr)
		}
		s.log.Error("state file unusable; moved aside, starting with --workers", "err", err, "moved_to", bad,
			"workers", s.cfg.Workers)
		s.desiredFrom = "--workers (the state file was unusable and moved to " + bad + ")"
	case errors.Is(err, errNoState):
		s.desiredFrom = "--workers (no state file yet)"
	default:
		return err
	}
	s.desired = s.cfg.Workers
	return saveState(s.cfg.StateFile, persisted{Desired: s.desired})
}

// DesiredFrom says where the worker count the daemon started with came
// from (the state file, --workers, …); "" before the daemon has started.
func (s *Supervisor) DesiredFrom() string {
	if p := s.fromReady.Load(); p != nil {
		return *p
	}
	return ""
}

func (s *Supervisor) watchdog(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// The keep-alive proves the loop is turning, not just that the process lives.
			if err := s.call(ctx, func() {}); err == nil {
				_, _ = sdnotify.Notify(sdnotify.Watchdog)
			}
		}
	}
}
