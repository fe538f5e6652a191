// Command baseline runs the same scenarios on the seed's design and on
// voxfleet, on this machine, and prints the figures side by side as a
// Markdown table for docs/BENCHMARKS.md.
//
// The seed's design is rebuilt from Debian packages: N single-call uvicorn
// workers (bench/baseline/seedworker/app.py, one per Unix socket) under
// Debian's supervisor, behind nginx with the seed's upstream block.
// voxfleet is `voxfleet run` behind nginx with deploy/nginx/voxfleet.conf.
// Both nginx masters are the benchmark's own, on loopback ports, with 4
// worker processes. The figures: all-ready time, kill -9 to serving, idle
// worker memory, calls cut by a rolling and by a full restart with calls in
// flight, and calls refused at full capacity.
//
// It asserts nothing; it reports. It stops by itself and stops every process
// it started, on failure and on Ctrl-C too.
//
//	./scripts/deps-baseline.sh && make build && go run ./bench/baseline
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// config is the command line.
type config struct {
	workers   int
	calls     int
	extra     int
	fills     int
	readyRuns int
	kills     int
	bin       string
	site      string
	app       string
	only      string
	timeout   time.Duration
}

func run(args []string, stdout, stderr io.Writer) int {
	var cfg config
	fs := flag.NewFlagSet("baseline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.workers, "workers", 16, "workers per system (N)")
	fs.IntVar(&cfg.calls, "calls", 8, "long calls in flight during each restart")
	fs.IntVar(&cfg.extra, "extra", 8, "calls offered once every worker is in a call")
	fs.IntVar(&cfg.fills, "fills", 3, "times every worker is filled with a call for the capacity figures")
	fs.IntVar(&cfg.readyRuns, "ready-runs", 3, "starts timed for the all-ready figure")
	fs.IntVar(&cfg.kills, "kills", 8, "workers killed with kill -9 for the kill-to-serving figure")
	fs.StringVar(&cfg.bin, "bin", "bin/voxfleet", "voxfleet binary (make build)")
	fs.StringVar(&cfg.site, "site", "deploy/nginx/voxfleet.conf", "voxfleet's nginx site")
	fs.StringVar(&cfg.app, "app", "bench/baseline/seedworker", "directory of the seed worker's app.py")
	fs.StringVar(&cfg.only, "only", "", "run one system only: seed or voxfleet")
	fs.DurationVar(&cfg.timeout, "timeout", 20*time.Minute, "stop everything after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if cfg.workers < 1 || cfg.calls < 1 || cfg.calls > cfg.workers || cfg.readyRuns < 1 || cfg.kills < 1 || cfg.extra < 0 || cfg.fills < 1 {
		fmt.Fprintln(stderr, "baseline: need workers ≥ 1, 1 ≤ calls ≤ workers, ready-runs ≥ 1, kills ≥ 1, extra ≥ 0, fills ≥ 1")
		return 2
	}
	for _, p := range []*string{&cfg.bin, &cfg.site, &cfg.app} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			fmt.Fprintf(stderr, "baseline: %v\n", err)
			return 2
		}
		*p = abs
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()

	logf := func(format string, a ...any) {
		fmt.Fprintf(stderr, "%s baseline: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
	}
	var systems []system
	if cfg.only == "" || cfg.only == "seed" {
		systems = append(systems, newSeed(cfg.workers, cfg.app))
	}
	if cfg.only == "" || cfg.only == "voxfleet" {
		systems = append(systems, newFleet(cfg.workers, cfg.bin, cfg.site))
	}
	if len(systems) == 0 {
		fmt.Fprintf(stderr, "baseline: -only %q: want seed or voxfleet\n", cfg.only)
		return 2
	}
	var all []*results
	for _, sys := range systems {
		if ctx.Err() != nil {
			break
		}
		all = append(all, measure(ctx, sys, cfg, logf))
	}
	systems = systems[:len(all)]
	writeReport(stdout, cfg, systems, all, strings.Join(append([]string{"go run ./bench/baseline"}, args...), " "))
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "baseline: stopped early: %v\n", context.Cause(ctx))
		return 1
	}
	return 0
}

// results are one system's figures; a figure that could not be measured
// keeps the error saying why.
type results struct {
	readies  []time.Duration
	readyErr error

	rss, pss        []int // KiB, one per idle worker
	mgrRSS, mgrPSS  int   // KiB, the manager process
	memErr          error
	kills           []time.Duration
	killErr         error
	rolling, full   restartResult
	rollErr, fulErr error
	capacity        capacityResult
	capErr          error
}

// measure runs every scenario on sys and stops it, whatever happens.
func measure(ctx context.Context, sys system, cfg config, logf func(string, ...any)) *results {
	r := &results{}
	defer sys.close()
	logf("%s: starting nginx", sys.name())
	if err := sys.open(ctx); err != nil {
		r.readyErr = err
		return r
	}
	for i := range cfg.readyRuns {
		d, err := sys.startWorkers(ctx)
		if err != nil {
			r.readyErr = err
			return r
		}
		r.readies = append(r.readies, d)
		logf("%s: %d workers all ready in %s (start %d of %d)", sys.name(), cfg.workers, d.Round(time.Millisecond), i+1, cfg.readyRuns)
		if i < cfg.readyRuns-1 {
			sys.stopWorkers()
		}
	}
	if err := sys.waitRouting(ctx); err != nil {
		r.readyErr = err
		return r
	}
	r.memErr = idleMemory(ctx, sys, r)
	logf("%s: idle memory measured over %d workers", sys.name(), len(r.rss))

	for _, p := range sys.sockets()[:min(cfg.kills, cfg.workers)] {
		d, err := killToServing(ctx, p, 30*time.Second)
		if err != nil {
			r.killErr = err
			break
		}
		r.kills = append(r.kills, d)
	}
	logf("%s: %d kill -9 measured", sys.name(), len(r.kills))

	rolling, full := sys.operations()
	if r.rollErr = waitIdle(ctx, sys, 60*time.Second); r.rollErr == nil {
		logf("%s: rolling restart with %d calls in flight (%s)", sys.name(), cfg.calls, rolling)
		r.rolling, r.rollErr = restartUnderLoad(ctx, sys, cfg.calls, sys.rollingRestart)
	}
	if r.fulErr = waitIdle(ctx, sys, 60*time.Second); r.fulErr == nil {
		logf("%s: full restart with %d calls in flight (%s)", sys.name(), cfg.calls, full)
		r.full, r.fulErr = restartUnderLoad(ctx, sys, cfg.calls, sys.fullRestart)
	}
	r.capacity = capacityResult{busy: cfg.workers, refusedSet: map[string]int{}, refused: map[string]int{}}
	for i := range cfg.fills {
		if r.capErr = waitIdle(ctx, sys, 60*time.Second); r.capErr != nil {
			break
		}
		logf("%s: %d calls, then %d more (%d of %d)", sys.name(), cfg.workers, cfg.extra, i+1, cfg.fills)
		c, err := atCapacity(ctx, sys, cfg.extra)
		r.capacity.add(c)
		if r.capErr = err; err != nil {
			break
		}
	}
	logf("%s: done, stopping", sys.name())
	return r
}

// idleMemory reads RSS and PSS of every idle worker process and of the
// manager.
func idleMemory(ctx context.Context, sys system, r *results) error {
	for _, p := range sys.sockets() {
		h, err := health(ctx, p, 2*time.Second)
		if err != nil {
			return err
		}
		rss, pss, err := memKB(h.PID)
		if err != nil {
			return err
		}
		r.rss, r.pss = append(r.rss, rss), append(r.pss, pss)
	}
	var err error
	r.mgrRSS, r.mgrPSS, err = memKB(sys.managerPID())
	return err
}
