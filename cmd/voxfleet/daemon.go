package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/voxplatform/vox/recording"
	"github.com/voxplatform/vox/runtimeclient"
	"github.com/voxplatform/vox/spool"
	"github.com/voxplatform/vox/supervisor"
	"github.com/voxplatform/vox/svcauth"
	"github.com/voxplatform/vox/upstream"
	"github.com/voxplatform/vox/version"
)

func runDaemon(args []string, stdout, stderr io.Writer) int {
	var (
		cfg            supervisor.Config
		logLevel       string
		logFormat      string
		maxCall        time.Duration
		hint           bool
		workerLogLevel string
		recycleMB      int
		stallAfter     time.Duration
		stallEnd       time.Duration
		fleetID        string
		rehearse       bool
	)
	f := newEnvFlags("run", stderr)
	f.Int(&cfg.Workers, "workers", 4, "workers on this host when no usable state file exists yet")
	f.Int(&cfg.WorkerLimit, "max-workers", supervisor.MaxWorkers, "the most workers this host may run: scale refuses more, a larger state file count is clamped")
	f.String(&cfg.SocketDir, "socket-dir", supervisor.DefaultSocketDir, "directory of worker sockets and control.sock")
	f.String(&cfg.StateFile, "state-file", supervisor.DefaultStateFile, "file keeping the desired worker count across restarts (default with a --socket-dir other than "+supervisor.DefaultSocketDir+": SOCKET_DIR/state.json)")
	f.String(&cfg.Listen, "listen", supervisor.DefaultListen, "address of /health/fleet and /metrics")
	f.String(&cfg.UpstreamFile, "upstream-file", supervisor.DefaultUpstreamFile, "nginx upstream include that voxfleet renders")
	f.String(&cfg.NginxTest, "nginx-test", "", "command that tests nginx's configuration (sh -c); empty skips")
	f.String(&cfg.NginxReload, "nginx-reload", "", "command that reloads nginx (sh -c); empty renders the file only")
	f.String(&cfg.SocketGroup, "socket-group", "", "group allowed to connect to worker sockets (nginx's)")
	f.Duration(&cfg.StopTimeout, "stop-timeout", supervisor.DefaultStopTimeout, "on SIGTERM, how long calls may finish before workers are stopped")
	f.Duration(&cfg.ReadyTimeout, "ready-timeout", 10*time.Second, "how long a new worker may take to answer /health")
	f.Duration(&maxCall, "max-call-duration", time.Hour, "longest call a worker allows")
	f.String(&cfg.StopMode, "stop-mode", supervisor.StopDrain, "on SIGTERM: drain (wait up to --stop-timeout for calls, then stop every worker) or handoff (exit at once; workers in a call finish it and the next daemon takes their index back)")
	f.Int(&cfg.RecycleCalls, "recycle-after-calls", 0, "replace an idle worker after this many calls (0: never)")
	f.Int(&recycleMB, "recycle-above-rss", 0, "replace an idle worker whose RSS exceeds this many MB (0: never)")
	f.Duration(&stallAfter, "call-stall-after", 5*time.Second, "flag a call whose media has not advanced for this long")
	f.Duration(&stallEnd, "call-stall-end", 30*time.Second, "end a call whose media has not advanced for this long")
	f.Duration(&cfg.CanaryPeriod, "canary-period", 3*time.Second, "on upgrade, how long the first new worker must stay up before the others follow")
	f.String(&cfg.WorkerBinary, "worker-binary", "", "binary started as each worker (default: this binary; an upgrade puts the new one in its place)")
	f.String(&fleetID, "fleet-id", "", "this host's fleet id in the Backend's registry: workers accept only service tokens scoped to it (required)")
	f.String(&cfg.InstallPath, "install-path", "", "where new releases are installed; voxfleet upgrade takes the new binary from here (default: this binary)")
	f.String(&cfg.ReleaseDir, "release-dir", "", "keep every release upgraded to here, with a 'current' link to the last good one for the unit to start (empty: keep none)")
	f.String(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.String(&logFormat, "log-format", logAuto, "auto (text when stderr is a terminal, JSON otherwise), text or json; workers log the same way")
	f.String(&workerLogLevel, "worker-log-level", "info", "log level of the workers")
	f.deferEnvErrs = true
	f.fs.Usage = func() {
		fmt.Fprintf(f.fs.Output(), "usage: voxfleet run [flags]\n\nflags (each also read from the variable named):\n")
		f.fs.PrintDefaults()
		fmt.Fprint(f.fs.Output(), callSettingsHelp+voiceSettingsHelp)
	}
	f.fs.BoolVar(&hint, "hint", false, "print how to look at the fleet and place a test call once it is ready")
	f.fs.BoolVar(&rehearse, strings.TrimPrefix(supervisor.RehearseFlag, "--"), false,
		"check that this binary starts with this configuration, then exit 0 without starting anything (voxfleet upgrade runs this first)")
	if code := f.parse(args, stderr); code >= 0 {
		return code
	}
	if f.fs.NArg() > 0 {
		fmt.Fprintf(stderr, "voxfleet run: unexpected arguments %q\n", f.fs.Args())
		return exitUsage
	}
	if !f.isSet("state-file") {
		cfg.StateFile = defaultStateFile(cfg.SocketDir)
	}
	cfg = cfg.WithDefaults()
	cfg.HostStopping = hostStopping
	cfg.RecycleRSS = int64(recycleMB) << 20
	cfg.WorkerArgs = []string{"--max-call-duration", maxCall.String(), "--log-level", workerLogLevel,
		"--stall-after", stallAfter.String(), "--stall-end", stallEnd.String(), "--fleet-id", fleetID}

	// Every problem is reported at once, each naming its setting.
	var problems []string
	for _, err := range f.errs {
		problems = append(problems, err.Error())
	}
	if err := cfg.Validate(); err != nil {
		problems = append(problems, strings.Split(err.Error(), "\n")...)
	}
	if err := svcauth.ValidateSecret(os.Getenv("VOX_SERVICE_SECRET")); err != nil {
		problems = append(problems, "$VOX_SERVICE_SECRET: "+err.Error()+" (shared with the Backend and the Dialler)")
	}
	if err := svcauth.ValidateFleetID(fleetID); err != nil {
		problems = append(problems, "--fleet-id ($VOXFLEET_FLEET_ID): "+err.Error())
	}
	if maxCall <= 0 {
		problems = append(problems, "--max-call-duration: must be positive")
	}
	calls, callProblems := loadCallSettings()
	problems = append(problems, callProblems...)
	if calls.SpoolDir == "" {
		// Workers inherit the resolved directory: beside the state file.
		calls.SpoolDir = filepath.Join(filepath.Dir(cfg.StateFile), "spool")
		if abs, err := filepath.Abs(calls.SpoolDir); err == nil {
			calls.SpoolDir = abs
		}
		os.Setenv(envSpoolDir, calls.SpoolDir)
	}
	if stallAfter <= 0 || stallEnd <= stallAfter {
		problems = append(problems, "--call-stall-after, --call-stall-end: both positive, the end longer than the flag")
	}
	logger, err := newLogger(stderr, logLevel, logFormat)
	if err != nil {
		problems = append(problems, "--log-level, --log-format: "+err.Error())
	}
	if lf, err := resolveLogFormat(logFormat, isTerminal(stderr)); err == nil {
		// Workers inherit the environment and write to the same stderr: they
		// log as the daemon does. An environment variable rather than a flag,
		// so that a release without --log-format still starts as a worker.
		os.Setenv(envName("log-format"), lf)
	}
	if len(problems) > 0 {
		fmt.Fprintln(stderr, "voxfleet run: invalid configuration:")
		for _, p := range problems {
			fmt.Fprintln(stderr, "  "+p)
		}
		return exitUsage
	}
	if calls.Voice.Default == defaultDemo {
		logger.Info("calls without a configured agent get the demo agent (the voice pipeline and its booking script)", "component", "main",
			"stt", providerName(calls.Voice.STT.Name, "pocketsphinx"), "tts", providerName(calls.Voice.TTS.Name, "espeak"))
	} else {
		logger.Info("calls without a configured agent get the scripted chime-and-echo agent", "component", "main",
			"setting", "$"+envDefault+"=scripted")
	}
	if calls.Voice.Why != "" {
		logger.Warn("calls get the scripted agent: the voice pipeline's engines are missing", "component", "main", "missing", calls.Voice.Why)
	} else if calls.Voice.Kind == agentOffline {
		logger.Info("calls of configured agents get the voice pipeline", "component", "main",
			"stt", providerName(calls.Voice.STT.Name, "pocketsphinx"), "tts", providerName(calls.Voice.TTS.Name, "espeak"), "llm", calls.Voice.LLM != nil)
	}
	if err := os.MkdirAll(filepath.Dir(cfg.UpstreamFile), 0o755); err != nil {
		fmt.Fprintf(stderr, "voxfleet run: --upstream-file: %v\n", err)
		return exitFail
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	up, err := upstream.New(upstream.Config{
		File:      cfg.UpstreamFile,
		Name:      cfg.UpstreamName,
		TestCmd:   cfg.NginxTest,
		ReloadCmd: cfg.NginxReload,
	}, logger, reg)
	if err != nil {
		fmt.Fprintf(stderr, "voxfleet run: %v\n", err)
		return exitFail
	}
	sup, err := supervisor.New(cfg, logger.With("component", "supervisor"), reg, up, version.Version)
	if err != nil {
		fmt.Fprintf(stderr, "voxfleet run: %v\n", err)
		return exitFail
	}
	if rehearse {
		fmt.Fprintf(stdout, "voxfleet %s: configuration accepted; ready to take over\n", version.Version)
		return exitOK
	}

	// Shutdown order: a signal cancels the supervisor's context; it drains
	// the workers, stops its servers and the upstream manager, then returns.
	var g run.Group
	ctx, cancel := context.WithCancel(context.Background())
	g.Add(func() error { return sup.Run(ctx) }, func(error) {
		logger.Info("stopping supervisor", "component", "main")
		cancel()
	})
	// The first SIGINT or SIGTERM drains; a second one stops every worker
	// at once, cutting the calls in progress, and still leaves no process
	// and no socket behind.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	first := make(chan os.Signal, 1)
	sigDone := make(chan struct{})
	defer close(sigDone)
	go watchSignals(sigs, first, sigDone, sup, logger, stderr)
	g.Add(func() error {
		<-first
		return errSignal
	}, func(error) {})
	{
		// Calls whose worker died get their final record here.
		rctx, rcancel := context.WithCancel(context.Background())
		g.Add(func() error {
			if err := reapCalls(rctx, calls, logger.With("component", "records")); err != nil {
				logger.Error("calls of dead workers are not ended", "component", "records", "err", err)
			}
			<-rctx.Done()
			return nil
		}, func(error) { rcancel() })
	}
	if calls.BackendURL != "" {
		// Call records written by the workers (and left by workers that
		// died) reach the Backend from here, retried while it is down.
		sp, err := spool.Open(filepath.Join(calls.SpoolDir, "calls"))
		if err != nil {
			fmt.Fprintf(stderr, "voxfleet run: $%s: %v\n", envSpoolDir, err)
			return exitFail
		}
		client, err := newRuntimeClient(calls)
		if err != nil {
			fmt.Fprintf(stderr, "voxfleet run: $%s: %v\n", envBackendURL, err)
			return exitFail
		}
		dctx, dcancel := context.WithCancel(context.Background())
		d := &spool.Drainer{Spool: sp, Sink: client.CallSink(), Logger: logger.With("component", "records")}
		g.Add(func() error {
			// A broken spool must not stop the fleet: say so and carry on.
			if err := d.Run(dctx); err != nil {
				logger.Error("call records are not delivered", "component", "records", "err", err)
			}
			<-dctx.Done()
			return nil
		}, func(error) { dcancel() })
	} else {
		logger.Warn("no $"+envBackendURL+": call records stay in the spool", "component", "main", "spool", calls.SpoolDir)
	}
	if calls.MinIO.Endpoint != "" {
		// Recordings: those of workers that died mid-call are recovered,
		// then every one is uploaded, retried while MinIO is down.
		mc, err := recording.NewClient(calls.MinIO)
		if err != nil {
			fmt.Fprintf(stderr, "voxfleet run: $%s: %v\n", envMinIOEndpoint, err)
			return exitFail
		}
		var rc *runtimeclient.Client
		if calls.BackendURL != "" {
			rc, _ = newRuntimeClient(calls)
		}
		u, err := uploader(calls, mc, rc)
		if err != nil {
			fmt.Fprintf(stderr, "voxfleet run: $%s: %v\n", envSpoolDir, err)
			return exitFail
		}
		u.Logger = logger.With("component", "recordings")
		uctx, ucancel := context.WithCancel(context.Background())
		g.Add(func() error {
			if n, err := u.RecoverDir(); err != nil {
				u.Logger.Error("recovering recordings", "err", err)
			} else if n > 0 {
				u.Logger.Info("recovered recordings of calls cut by a worker's death", "count", n)
			}
			if err := u.Run(uctx); err != nil {
				u.Logger.Error("recordings are not uploaded", "err", err)
			}
			<-uctx.Done()
			return nil
		}, func(error) { ucancel() })
	}
	if hint {
		hctx, hcancel := context.WithCancel(context.Background())
		g.Add(func() error { printHint(hctx, stdout, cfg, sup.DesiredFrom); <-hctx.Done(); return nil }, func(error) { hcancel() })
	}
	if err := g.Run(); err != nil && !errors.Is(err, errSignal) {
		logger.Error("voxfleet failed", "component", "main", "err", err)
		return exitFail
	}
	return exitOK
}

var errSignal = errors.New("signal received")

// defaultStateFile is the state file used when none is given: the system
// one for the system socket directory, otherwise state.json inside the
// socket directory, so that a daemon run by hand on its own directory never
// shares (and rewrites) the installed daemon's worker count.
func defaultStateFile(socketDir string) string {
	if filepath.Clean(socketDir) == supervisor.DefaultSocketDir {
		return supervisor.DefaultStateFile
	}
	return filepath.Join(socketDir, "state.json")
}

// watchSignals hands the first signal to first and turns the second into
// sup.StopNow, until done is closed.
func watchSignals(sigs <-chan os.Signal, first chan<- os.Signal, done <-chan struct{}, sup *supervisor.Supervisor,
	logger *slog.Logger, stderr io.Writer) {
	n := 0
	for {
		select {
		case <-done:
			return
		case sig := <-sigs:
			n++
			switch n {
			case 1:
				logger.Info("signal received: draining; a second signal stops every worker now", "component", "main", "signal", sig.String())
				if isTerminal(stderr) {
					fmt.Fprintln(stderr, "voxfleet: draining: calls in progress may finish. Press Ctrl-C again to stop now (calls in progress are cut).")
				}
				first <- sig
			case 2:
				logger.Warn("second signal: stopping every worker now", "component", "main", "signal", sig.String())
				sup.StopNow()
			}
		}
	}
}

// hostStopping asks systemd whether the machine is shutting down.
func hostStopping() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "systemctl", "is-system-running").Output()
	return strings.TrimSpace(string(out)) == "stopping"
}
