// Command dialsim compares pacing strategies in a seeded simulation of an
// outbound campaign and prints, for each world, utilisation of the workers,
// abandon rate (overall and the worst rolling hour) and answers per hour. It
// asserts nothing; it reports.
//
// The world: N workers; each dial is answered by a person with chance p (or
// p drifting between 0.5 and 0.1 over the day), by an answering machine
// with chance 0.1, U(5, 25) s after it is placed; unanswered dials ring out
// after 25 s; a connected call lasts a log-normal time of mean 120 s and
// CV 0.5; the dialler decides every 2 s; days of 8 hours. A person who
// answers when no worker is free is abandoned.
//
//	go run ./bench/dialsim                 # every world, 5 seeds
//	go run ./bench/dialsim -workers 50 -p 0.3 -seeds 3
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/voxplatform/vox/pacing"
	"github.com/voxplatform/vox/pacing/sim"
)

func main() {
	workers := flag.String("workers", "10,50,200", "worker counts, comma separated")
	ps := flag.String("p", "0.1,0.3,0.5,drift", "chances a person answers, comma separated; drift moves from 0.5 to 0.1 and back over the day")
	seeds := flag.Int("seeds", 5, "days simulated per world and strategy")
	flag.IntVar(&firstSeed, "first-seed", 1, "seed of the first day (the next ones follow): other seeds, other days")
	hours := flag.Float64("hours", 8, "length of a day")
	strategies := flag.String("strategies", "one-per-free,fixed-ratio,vicidial,ours", "strategies to compare")
	ratioStep := flag.Float64("ratio-step", 0.2, "step of the fixed-ratio sweep (levels 1 to 6)")
	def := pacing.DefaultConfig()
	flag.Float64Var(&oursCfg.Target, "target", def.Target, "ours: abandon rate the threshold is steered to")
	flag.Float64Var(&oursCfg.HourGuard, "hour-guard", def.HourGuard, "ours: share of the cap at which the rolling hour is guarded")
	flag.Float64Var(&oursCfg.Gain, "gain", def.Gain, "ours: threshold gain")
	flag.Float64Var(&oursCfg.Confidence, "confidence", def.Confidence, "ours: standard errors added to the answer rate")
	flag.Float64Var(&oursCfg.RateVariance, "rate-variance", def.RateVariance, "ours: weight of the answer-rate estimate's variance")
	flag.BoolVar(&oursCfg.CensoredHandle, "censored", def.CensoredHandle, "ours: fit handle times to calls in progress as well")
	flag.Float64Var(&oursCfg.HourZ, "hour-z", def.HourZ, "ours: standard deviations of an hour's chance abandons kept under the cap (lowers the target for small campaigns)")
	flag.IntVar(&oursCfg.HourMinTally, "hour-min-tally", def.HourMinTally, "ours: least answers the rolling hour is counted with")
	flag.IntVar(&oursCfg.MinTally, "min-tally", def.MinTally, "ours: least answers a window's abandons are measured against")
	flag.IntVar(&oursCfg.LearnDials, "learn-dials", def.LearnDials, "ours: dial outcomes observed before dialling ahead")
	flag.Float64Var(&oursCfg.Estimator.FastHalfLifeDials, "fast-half-life-dials", def.Estimator.FastHalfLifeDials, "ours: memory of the quick answer-rate estimate planned with when higher (0: none)")
	flag.Float64Var(&oursCfg.Estimator.HalfLifeDials, "half-life-dials", def.Estimator.HalfLifeDials, "ours: memory of the answer rate, in dials")
	flag.Float64Var(&oursCfg.MinThreshold, "min-threshold", def.MinThreshold, "ours: lowest steered threshold (equal to -max-threshold: a fixed threshold, for frontier sweeps)")
	flag.Float64Var(&oursCfg.MaxThreshold, "max-threshold", def.MaxThreshold, "ours: highest steered threshold")
	flag.Float64Var(&oursCfg.PruneMinRing, "prune-min-ring", def.PruneMinRing, "ours: least ring, in seconds, before a dial may be hung up")
	flag.Float64Var(&oursCfg.PruneLimit, "prune-limit", def.PruneLimit, "ours: hang up dials rung that long whose chance of abandon is over this (0: never)")
	flag.Float64Var(&oursCfg.Cap, "cap", def.Cap, "ours: abandon cap of the guards and of the over-budget rule (0.5 with -hour-z 0: no guard, for frontier sweeps)")
	flag.Parse()

	ns, err := parseInts(*workers)
	if err != nil {
		fail(err)
	}
	names := strings.Split(*strategies, ",")
	start := time.Now()
	fmt.Printf("dialsim — %d seeds from %d, %.0f h days, %s, %d CPUs\n", *seeds, firstSeed, *hours, time.Now().UTC().Format(time.RFC3339), runtime.NumCPU())
	fmt.Println("utilisation, abandon and answers/hour: mean over seeds; worst hour: highest over every seed's rolling hours;")
	fmt.Println("min-util and max-aband: the worst seed's day; dials/h: dials placed an hour; hung-up%: dials hung up while ringing")
	for _, n := range ns {
		for _, pName := range strings.Split(*ps, ",") {
			w, err := newWorld(n, pName, *hours)
			if err != nil {
				fail(err)
			}
			fmt.Printf("\nN=%d p=%s\n", n, pName)
			fmt.Printf("  %-22s %7s %8s %10s %10s %10s %10s %8s %9s\n", "strategy", "util%", "aband%", "worst-h%", "answers/h", "min-util%", "max-aband%", "dials/h", "hung-up%")
			for _, name := range names {
				label, agg, ok := runStrategy(w, name, *seeds, *ratioStep)
				if !ok {
					fail(fmt.Errorf("unknown strategy %q", name))
				}
				fmt.Printf("  %-22s %7.1f %8.2f %10.2f %10.0f %10.1f %10.2f %8.0f %9.1f\n", label,
					100*agg.Utilisation, 100*agg.Abandon, 100*agg.WorstHour, agg.AnswersHour,
					100*agg.MinUtilisation, 100*agg.MaxAbandon, float64(agg.Dials)/float64(*seeds)/(*hours),
					100*float64(agg.HungUp)/float64(max(agg.Dials, 1)))
			}
		}
	}
	fmt.Printf("\n(%.0f s)\n", time.Since(start).Seconds())
}

// firstSeed is the seed of each world's first simulated day.
var firstSeed int

// oursCfg is the pacing configuration "ours" runs with: the package's
// defaults unless a flag changes them.
var oursCfg = pacing.DefaultConfig()

func newWorld(n int, p string, hours float64) (sim.World, error) {
	w := sim.World{
		Workers: n, PMachine: 0.1, AnswerMin: 5, AnswerMax: 25, RingTimeout: 25,
		HandleMean: 120, HandleCV: 0.5, Tick: 2, Day: hours * 3600,
	}
	if p == "drift" {
		day := w.Day
		w.PHuman = func(t float64) float64 { return 0.3 + 0.2*math.Cos(2*math.Pi*t/day) }
		return w, nil
	}
	v, err := strconv.ParseFloat(p, 64)
	if err != nil || v <= 0 || v+w.PMachine > 1 {
		return w, fmt.Errorf("bad -p %q: want a chance in (0, 0.9] or drift", p)
	}
	w.PHuman = func(float64) float64 { return v }
	return w, nil
}

// runStrategy simulates every seed of one strategy in parallel and returns
// its label and the aggregate. fixed-ratio sweeps its level and reports the
// level with the highest utilisation whose mean abandon rate stays at or
// under 3%.
func runStrategy(w sim.World, name string, seeds int, ratioStep float64) (string, aggregate, bool) {
	switch name {
	case "one-per-free":
		return name, runSeeds(w, seeds, func() sim.Strategy { return sim.OnePerFree{} }), true
	case "vicidial":
		return "vicidial-hard-limit", runSeeds(w, seeds, func() sim.Strategy { return sim.NewVicidial() }), true
	case "ours":
		return name, runSeeds(w, seeds, func() sim.Strategy {
			st, err := sim.NewPaced(oursCfg)
			if err != nil {
				fail(err)
			}
			return st
		}), true
	case "fixed-ratio":
		var best aggregate
		bestLevel := 1.0
		for level := 1.0; level <= 6+1e-9; level += ratioStep {
			l := level
			r := runSeeds(w, seeds, func() sim.Strategy { return sim.FixedRatio{Level: l} })
			if r.Abandon <= 0.03 && r.Utilisation > best.Utilisation {
				best, bestLevel = r, l
			}
			if r.Abandon > 0.06 {
				break // past the cap for good
			}
		}
		return fmt.Sprintf("fixed-ratio (best %.1f)", bestLevel), best, true
	}
	return "", aggregate{}, false
}

// aggregate is the mean of a world's seeds, with the worst seed's
// utilisation and abandon rate and the worst rolling hour of any seed.
type aggregate struct {
	sim.Result
	MinUtilisation, MaxAbandon float64
}

func runSeeds(w sim.World, seeds int, mk func() sim.Strategy) aggregate {
	out := make([]sim.Result, seeds)
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i := range seeds {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = sim.Simulate(w, mk(), uint64(firstSeed+i))
		}()
	}
	wg.Wait()
	agg := aggregate{MinUtilisation: 1}
	for _, r := range out {
		agg.MinUtilisation = math.Min(agg.MinUtilisation, r.Utilisation)
		agg.MaxAbandon = math.Max(agg.MaxAbandon, r.Abandon)
		agg.Utilisation += r.Utilisation / float64(seeds)
		agg.Abandon += r.Abandon / float64(seeds)
		agg.AnswersHour += r.AnswersHour / float64(seeds)
		agg.WorstHour = math.Max(agg.WorstHour, r.WorstHour)
		agg.Dials += r.Dials
		agg.HungUp += r.HungUp
	}
	return agg
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("bad count %q", f)
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return out, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "dialsim:", err)
	os.Exit(2)
}
