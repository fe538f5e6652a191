// Command voxdialler is the Vox Dialler (see dialler/): a background worker
// that paces and places the calls of running campaigns and hands the
// answered ones to fleet workers. Exactly one voxdialler dials per
// database; others wait as standby.
//
//	voxdialler [--placer livekit|simulate] [--interval S] [--health-host H] [--health-port P] [--id NAME] [--log-level L] [--mongodb-uri URI]
//	voxdialler check [--url http://127.0.0.1:8090]
//	voxdialler version | --version
//	voxdialler help | -h | --help
//
// Settings come from the environment (see deploy/env/voxdialler.env.example);
// flags override them. Exit codes: 0 ok, 1 failure, 2 bad usage or
// configuration.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/oklog/run"

	"github.com/voxplatform/vox/dialler"
	"github.com/voxplatform/vox/dialler/fleets"
	"github.com/voxplatform/vox/dialler/leader"
	"github.com/voxplatform/vox/dialler/lkplace"
	"github.com/voxplatform/vox/dialler/simulate"
	"github.com/voxplatform/vox/lkapi"
	"github.com/voxplatform/vox/pacing"
	"github.com/voxplatform/vox/runtimeclient"
	"github.com/voxplatform/vox/store"
	"github.com/voxplatform/vox/version"
)

func main() {
	os.Exit(runMain(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

const usage = `usage:
  voxdialler [--placer livekit|simulate] [--interval S] [--health-host H] [--health-port P]
             [--id NAME] [--log-level L] [--mongodb-uri URI]
  voxdialler check [--url http://127.0.0.1:8090]   (the healthcheck: /health and a smoke check of /metrics)
  voxdialler version | --version
  voxdialler help | -h | --help`

// help lists every setting from the table the loader reads.
func help(w io.Writer) {
	fmt.Fprintf(w, `voxdialler %s — the Vox Dialler: paces, places and hands over outbound calls

%s

Exactly one voxdialler dials per database (leader lease with a fencing
epoch); start a second one anywhere as a standby.

environment (flags override: --mongodb-uri, --log-level, --interval, --health-host,
--health-port, --id, --placer):
`, version.Version, usage)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, s := range settings {
		def := s.Default
		switch {
		case s.When == "always":
			def = "(required)"
		case s.When != "":
			def = "(required with " + s.When + ")"
		case def == "":
			def = "(empty)"
		}
		fmt.Fprintf(tw, "  $%s\t%s\t%s\n", s.Name, def, s.Help)
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "\nexit codes: 0 ok, 1 failure, 2 bad usage or configuration")
}

func runMain(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help", "help":
			help(stdout)
			return 0
		case "version", "--version":
			fmt.Fprintln(stdout, version.Version)
			return 0
		case "check":
			return check(args[1:], getenv, stdout, stderr)
		}
	}
	cfg, err := loadConfig(getenv, args)
	if err != nil {
		fmt.Fprintf(stderr, "voxdialler: %v\n\n%s\n(voxdialler -h lists every setting)\n", err, usage)
		return 2
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})).With("service", "voxdialler")
	if err := serve(cfg, logger); err != nil {
		logger.Error("voxdialler failed", "err", err)
		return 1
	}
	return 0
}

// serve wires the components and runs them in one run.Group.
//
// Shutdown order: a signal ends the group; the dialler stops dialling at
// once, gives up leadership (a standby takes over at its next tick) and
// lets the calls it placed be answered and attached for up to
// DIALLER_DRAIN_SECONDS; the health server keeps answering until it has.
func serve(cfg config, logger *slog.Logger) error {
	st, err := store.Open(cfg.MongoURI, cfg.MongoDatabase)
	if err != nil {
		return err
	}
	defer st.Close(context.Background())

	placer, attacher, capacity, closeWorld, err := placement(cfg)
	if err != nil {
		return err
	}
	defer closeWorld()
	el := leader.New(st, cfg.Owner, cfg.LeaderTTL, logger)
	pc := pacing.DefaultConfig()
	pc.PruneMinRing, pc.PruneLimit = cfg.HangUpAfter.Seconds(), cfg.HangUpRisk
	d, err := dialler.New(dialler.Config{
		Owner: cfg.Owner, Interval: cfg.Interval, LeaderTTL: cfg.LeaderTTL, RingTimeout: cfg.RingTimeout,
		AttachTimeout: cfg.AttachTimeout, MaxCall: cfg.MaxCall, AbandonCap: cfg.AbandonCap, DrainTimeout: cfg.Drain,
		TallyEvery: 30 * time.Second, Pacing: pc,
	}, st, el, placer, attacher, capacity, logger)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.HealthHost, strconv.Itoa(cfg.HealthPort)))
	if err != nil {
		return fmt.Errorf("listen for /health: %w", err)
	}
	srv := &http.Server{Handler: d.Handler(), ReadHeaderTimeout: 5 * time.Second}
	dialled := make(chan struct{})

	var g run.Group
	g.Add(run.SignalHandler(context.Background(), syscall.SIGINT, syscall.SIGTERM))
	{
		ctx, cancel := context.WithCancel(context.Background())
		g.Add(func() error {
			defer close(dialled)
			if err := waitIndexes(ctx, st, cfg.IndexWait, logger); err != nil {
				return err
			}
			return d.Run(ctx)
		}, func(error) {
			logger.Info("stopping the dialler")
			cancel()
		})
	}
	{
		g.Add(func() error {
			logger.Info("health server listening", "addr", ln.Addr().String())
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		}, func(error) {
			select { // answer /health while the dialler drains
			case <-dialled:
			case <-time.After(cfg.Drain + 10*time.Second):
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		})
	}
	err = g.Run()
	if errors.Is(err, run.ErrSignal) {
		logger.Info("stopped", "cause", err.Error())
		return nil
	}
	return err
}

// placement builds what places and attaches calls, and how full the pool is.
func placement(cfg config) (dialler.Placer, dialler.Attacher, dialler.Capacity, func(), error) {
	if cfg.Placer == PlacerSimulate {
		var log io.Writer
		var f *os.File
		if cfg.Sim.Log != "" {
			var err error
			if f, err = os.OpenFile(cfg.Sim.Log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
				return nil, nil, nil, nil, fmt.Errorf("DIALLER_SIM_LOG: %w", err)
			}
			log = f
		}
		w := simulate.New(simulate.Config{Workers: cfg.Sim.Workers, PAnswer: cfg.Sim.PAnswer, PBusy: cfg.Sim.PBusy,
			PFail: cfg.Sim.PFail, RingMin: cfg.Sim.RingMin, RingMax: cfg.Sim.RingMax, HandleMean: cfg.Sim.Handle,
			HandleCV: 0.5, Seed: cfg.Sim.Seed, Log: log})
		return w, w, w, func() {
			w.Close()
			if f != nil {
				f.Close()
			}
		}, nil
	}
	lk, err := lkapi.New(cfg.LiveKit)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	rt, err := runtimeclient.New(runtimeclient.Config{BaseURL: cfg.BackendURL, Secret: []byte(cfg.ServiceSecret),
		Subject: "voxdialler", Timeout: 3 * time.Second, Attempts: 2})
	if err != nil {
		return nil, nil, nil, nil, err
	}
	fl := fleets.New(rt, []byte(cfg.ServiceSecret))
	return lkplace.New(lk), fl, fl, func() {}, nil
}

// waitIndexes waits for the indexes voxbridge creates (voxdialler creates
// none: one service owns the schema).
func waitIndexes(ctx context.Context, st *store.Store, limit time.Duration, logger *slog.Logger) error {
	deadline := time.Now().Add(limit)
	for {
		missing, err := st.MissingIndexes(ctx)
		if err == nil && len(missing) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("database not ready after %v: %w", limit, err)
			}
			return fmt.Errorf("indexes %v missing after %v: start voxbridge (it creates them) against this database", missing, limit)
		}
		logger.Info("waiting for the indexes voxbridge creates", "missing", missing, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
}
