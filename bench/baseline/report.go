package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"
)

// writeReport prints the figures as a Markdown table, one column per
// system, followed by the command and what each operation was.
func writeReport(w io.Writer, cfg config, systems []system, rs []*results, command string) {
	fmt.Fprintf(w, "\nMeasured %s on %d CPUs, N = %d workers per system.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), numCPU(), cfg.workers)
	head := []string{"figure"}
	for _, s := range systems {
		head = append(head, s.name())
	}
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
	row := func(figure string, cell func(r *results) string) {
		cells := []string{figure}
		for _, r := range rs {
			cells = append(cells, cell(r))
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	row(fmt.Sprintf("%d workers all ready: manager start → every socket answers `GET /health` (median of %d starts)", cfg.workers, cfg.readyRuns),
		func(r *results) string {
			if len(r.readies) == 0 {
				return notMeasured(r.readyErr)
			}
			return fmt.Sprintf("**%s** (max %s)", dur(median(r.readies)), dur(slices.Max(r.readies)))
		})
	row(fmt.Sprintf("kill -9 of an idle worker → its socket answers `/health` from a new pid (median of %d kills)", cfg.kills),
		func(r *results) string {
			if len(r.kills) == 0 {
				return notMeasured(r.killErr)
			}
			s := fmt.Sprintf("**%s** (max %s)", dur(median(r.kills)), dur(slices.Max(r.kills)))
			if r.killErr != nil {
				s += fmt.Sprintf("; %d of %d measured: %v", len(r.kills), cfg.kills, r.killErr)
			}
			return s
		})
	row("idle worker memory, one process per worker (uvicorn `--workers 1` runs in its own process; a voxfleet worker is the re-executed binary): RSS median (max), PSS median",
		func(r *results) string {
			if len(r.rss) == 0 || r.memErr != nil && len(r.rss) < cfg.workers {
				return notMeasured(r.memErr)
			}
			return fmt.Sprintf("**RSS %s** (max %s), PSS %s", mb(medianInt(r.rss)), mb(slices.Max(r.rss)), mb(medianInt(r.pss)))
		})
	row("manager process memory (supervisord; the voxfleet daemon): RSS, PSS",
		func(r *results) string {
			if r.mgrRSS == 0 {
				return notMeasured(r.memErr)
			}
			return fmt.Sprintf("RSS %s, PSS %s", mb(r.mgrRSS), mb(r.mgrPSS))
		})
	row("all N workers' idle memory, summed PSS", func(r *results) string {
		if len(r.pss) == 0 {
			return notMeasured(r.memErr)
		}
		sum := 0
		for _, p := range r.pss {
			sum += p
		}
		return mb(sum)
	})
	restartRows(row, "rolling restart", cfg.calls, cfg.workers, func(r *results) (restartResult, error) { return r.rolling, r.rollErr })
	restartRows(row, "full restart", cfg.calls, cfg.workers, func(r *results) (restartResult, error) { return r.full, r.fulErr })
	row(fmt.Sprintf("filling all %d free workers one call after another, %d times: attempts refused (then retried)", cfg.workers, cfg.fills),
		func(r *results) string {
			c := r.capacity
			if r.capErr != nil && c.fills == 0 {
				return notMeasured(r.capErr)
			}
			s := fmt.Sprintf("**%d** attempts refused", total(c.refusedSet))
			if len(c.refusedSet) > 0 {
				s += ": " + refusals(c.refusedSet)
			}
			if r.capErr != nil {
				s += fmt.Sprintf("; fill %d: %s", c.fills, notMeasured(r.capErr))
			}
			return s
		})
	row(fmt.Sprintf("%d more calls with all %d workers in calls, after each fill: refused, and how", cfg.extra, cfg.workers),
		func(r *results) string {
			c := r.capacity
			if r.capErr != nil && c.extra == 0 {
				return notMeasured(r.capErr)
			}
			s := fmt.Sprintf("**%d of %d** refused", c.extra-c.admitted, c.extra)
			if len(c.refused) > 0 {
				s += ": " + refusals(c.refused)
			}
			if c.busy != cfg.workers {
				s += fmt.Sprintf(" (in one fill only %d of %d workers said busy)", c.busy, cfg.workers)
			}
			return s
		})
	row("…of which reached a busy worker (refused by the worker: 429 or a close after the upgrade, not by nginx); admitted beyond capacity",
		func(r *results) string {
			if r.capErr != nil && r.capacity.extra == 0 {
				return notMeasured(r.capErr)
			}
			return fmt.Sprintf("%d reached a busy worker; %d admitted", r.capacity.byWorker, r.capacity.admitted)
		})

	fmt.Fprintf(w, "\nCommand: `%s`", command)
	fmt.Fprintf(w, " (after `./scripts/deps-baseline.sh` and `make build`).\n\n")
	for _, s := range systems {
		rolling, full := s.operations()
		fmt.Fprintf(w, "- %s: rolling restart = %s; full restart = %s; kill -9 = `kill -9` of the pid a worker's `/health` reports.\n", s.name(), rolling, full)
	}
	fmt.Fprintf(w, "- A call is cut when its WebSocket closes before the caller presses '#', or when no echo arrives within %s of the caller's pause; calls are ended with '#' 5 s after the restart command returned, and one that completed no exchange in those 5 s counts as cut too. Calls talk throughout: 1 s of speech, a pause, the echo, 1 s of listening.\n", echoTimeout)
	fmt.Fprintf(w, "- New calls during a restart: one short call (greeting, then '#') every %s from the command's start until %s after it returned.\n", probeEvery, probeAfter)
}

// restartRows adds the rows of one restart scenario.
func restartRows(row func(string, func(*results) string), what string, calls, workers int, get func(*results) (restartResult, error)) {
	row(fmt.Sprintf("calls cut by a %s with %d calls in flight through nginx", what, calls), func(r *results) string {
		x, err := get(r)
		if err != nil {
			return notMeasured(err)
		}
		s := fmt.Sprintf("**%d of %d** cut", x.cut, x.calls)
		if len(x.cutWhy) > 0 {
			s += ": " + refusals(x.cutWhy)
		}
		return s
	})
	row(fmt.Sprintf("%s: time the command took, workers replaced; new calls refused meanwhile", what), func(r *results) string {
		x, err := get(r)
		if err != nil {
			return notMeasured(err)
		}
		s := fmt.Sprintf("%s, %d of %d workers replaced; %d of %d new calls refused",
			dur(x.took), x.replaced, workers, total(x.probeFail), x.probes)
		if len(x.probeFail) > 0 {
			s += " (" + refusals(x.probeFail) + ")"
		}
		if x.opErr != nil {
			s += fmt.Sprintf("; the command failed: %v", x.opErr)
		}
		return s
	})
}

func notMeasured(err error) string {
	if err == nil {
		return "not measured"
	}
	msg := strings.ReplaceAll(err.Error(), "|", "/")
	if len(msg) > 160 {
		msg = msg[:160] + "…"
	}
	return "not measured: " + msg
}

// refusals renders counts by kind, largest first: "3 × HTTP 502, 1 × …".
func refusals(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := slices.Sorted(maps.Keys(m))
	slices.SortStableFunc(keys, func(a, b string) int { return m[b] - m[a] })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d × %s", m[k], k))
	}
	return strings.Join(parts, ", ")
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func dur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return (s[(len(s)-1)/2] + s[len(s)/2]) / 2
}

func medianInt(v []int) int {
	s := slices.Clone(v)
	slices.Sort(s)
	return (s[(len(s)-1)/2] + s[len(s)/2]) / 2
}

func mb(kb int) string { return fmt.Sprintf("%.1f MB", float64(kb)/1024) }

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}
