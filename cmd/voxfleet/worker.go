package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/oklog/run"

	"github.com/voxplatform/vox/callslot"
	"github.com/voxplatform/vox/lifeline"
	"github.com/voxplatform/vox/supervisor"
	"github.com/voxplatform/vox/svcauth"
	"github.com/voxplatform/vox/version"
)

// runWorker runs one call slot. The daemon starts it with its listening
// socket as an inherited descriptor; run by hand, it binds --socket itself.
// SIGTERM drains: no new call, the current one finishes, then it exits.
func runWorker(args []string, stderr io.Writer) int {
	var (
		index                int
		socket               string
		maxCall              time.Duration
		logLevel, logFormat  string
		stallAfter, stallEnd time.Duration
		fleetID              string
	)
	f := newEnvFlags("worker", stderr)
	f.fs.IntVar(&index, "index", 0, "slot index (from 1)")
	f.fs.StringVar(&socket, "socket", "", "socket path this worker serves")
	f.fs.DurationVar(&maxCall, "max-call-duration", time.Hour, "longest call allowed")
	f.fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.String(&logFormat, "log-format", logAuto, "auto (text on a terminal, JSON otherwise), text or json")
	f.fs.DurationVar(&stallAfter, "stall-after", 0, "flag a call whose media has not advanced for this long")
	f.fs.DurationVar(&stallEnd, "stall-end", 0, "end a call whose media has not advanced for this long")
	f.fs.StringVar(&fleetID, "fleet-id", os.Getenv("VOXFLEET_FLEET_ID"), "this host's fleet id: only service tokens scoped to it are accepted")
	if code := f.parse(args, stderr); code >= 0 {
		return code
	}
	base, err := newLogger(stderr, logLevel, logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "voxfleet worker: %v\n", err)
		return exitUsage
	}
	logger := base.With("component", "worker", "index", index)
	secret := os.Getenv("VOX_SERVICE_SECRET")
	switch {
	case index < 1:
		fmt.Fprintln(stderr, "voxfleet worker: --index: must be 1 or more")
		return exitUsage
	case socket == "" && os.Getenv(supervisor.EnvListenFD) == "":
		fmt.Fprintln(stderr, "voxfleet worker: --socket: required")
		return exitUsage
	case svcauth.ValidateFleetID(fleetID) != nil:
		fmt.Fprintf(stderr, "voxfleet worker: --fleet-id: %v\n", svcauth.ValidateFleetID(fleetID))
		return exitUsage
	case svcauth.ValidateSecret(secret) != nil:
		fmt.Fprintf(stderr, "voxfleet worker: $VOX_SERVICE_SECRET: %v\n", svcauth.ValidateSecret(secret))
		return exitUsage
	}
	// A worker idles most of its life: keep its heap small.
	debug.SetGCPercent(50)

	ln, err := workerListener(socket)
	if err != nil {
		logger.Error("cannot listen", "err", err)
		return exitFail
	}
	parent := os.Getppid()
	own, _ := socketIdentity(ln)
	defer func() {
		// A worker whose daemon went away (handoff, crash) removes its own
		// socket when its last call is over, if the path is still its own:
		// nothing stale is left, and the next daemon can take the index.
		if os.Getppid() != parent && own != nil {
			if st, err := os.Stat(socket); err == nil && os.SameFile(st, own) {
				os.Remove(socket)
				logger.Info("removed own socket after the daemon went away", "socket", socket)
			}
		}
	}()
	life, err := lifeline.FromEnv()
	if err != nil {
		logger.Error("lifeline", "err", err)
		return exitFail
	}
	cfg := callslot.Config{
		Index:           index,
		Listener:        ln,
		Secret:          []byte(secret),
		FleetID:         fleetID,
		Version:         version.Version,
		MaxCallDuration: maxCall,
		StallAfter:      stallAfter,
		StallEnd:        stallEnd,
	}
	calls, problems := loadCallSettings()
	if len(problems) > 0 {
		fmt.Fprintln(stderr, "voxfleet worker: invalid configuration:")
		for _, p := range problems {
			fmt.Fprintln(stderr, "  "+p)
		}
		return exitUsage
	}
	release, err := workerCallConfig(&cfg, calls, base)
	if err != nil {
		logger.Error("invalid call settings", "err", err)
		return exitUsage
	}
	defer release()
	if life != nil {
		cfg.Lifeline = life
	}
	w, err := callslot.New(cfg, base) // callslot adds its own component and index
	if err != nil {
		logger.Error("invalid worker configuration", "err", err)
		return exitUsage
	}

	var g run.Group
	ctx, cancel := context.WithCancel(context.Background())
	g.Add(func() error { return w.Run(ctx) }, func(error) { cancel() })
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan struct{})
	g.Add(func() error {
		select {
		case s := <-sig:
			// Draining is graceful: Run returns once the call in progress ends.
			logger.Info("signal: draining", "signal", s.String())
			w.Drain()
			<-done
		case <-done:
		}
		return nil
	}, func(error) { close(done); signal.Stop(sig) })
	if err := g.Run(); err != nil && !errors.Is(err, context.Canceled) {
		logger.Error("worker failed", "err", err)
		return exitFail
	}
	return exitOK
}

// workerListener returns the socket inherited from the daemon, or binds path.
func workerListener(path string) (net.Listener, error) {
	if v := os.Getenv(supervisor.EnvListenFD); v != "" {
		fd, err := strconv.Atoi(v)
		if err != nil || fd < 3 {
			return nil, fmt.Errorf("$%s=%q: not an inherited descriptor", supervisor.EnvListenFD, v)
		}
		f := os.NewFile(uintptr(fd), "listener")
		defer f.Close()
		ln, err := net.FileListener(f)
		if err != nil {
			return nil, fmt.Errorf("inherited listener: %w", err)
		}
		return ln, nil
	}
	return net.Listen("unix", path)
}

// socketIdentity returns the file info of the socket ln serves, so it can be
// compared with what its path names later.
func socketIdentity(ln net.Listener) (os.FileInfo, error) {
	ul, ok := ln.(*net.UnixListener)
	if !ok {
		return nil, fmt.Errorf("not a unix listener")
	}
	f, err := ul.File()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Stat()
}
