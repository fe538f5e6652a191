package main

import (
	"bufio"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// frameClock records when audio arrives: samples and the gaps between
// deliveries.
type frameClock struct {
	mu      sync.Mutex // guards every field
	first   time.Time
	last    time.Time
	samples int64
	gaps    []float64 // ms between deliveries
}

func (c *frameClock) add(n int) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.first.IsZero() {
		c.first = now
	} else {
		c.gaps = append(c.gaps, float64(now.Sub(c.last))/float64(time.Millisecond))
	}
	c.last = now
	c.samples += int64(n)
}

// audio is what one side received against what it should have: audio flows
// continuously (silence included) from the first delivery to the last, whose
// own length is counted as that of the average delivery.
type audio struct {
	Received int64     `json:"received"`
	Expected int64     `json:"expected"`
	Gaps     []float64 `json:"gaps,omitempty"`
}

func (c *frameClock) report(rate int) audio {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := audio{Received: c.samples, Gaps: c.gaps}
	if n := int64(len(c.gaps) + 1); !c.first.IsZero() {
		a.Expected = int64(c.last.Sub(c.first).Seconds()*float64(rate)) + c.samples/n
	}
	return a
}

func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(p / 100 * float64(len(s)-1))
	return s[i]
}

// cpuSeconds is this process's user+system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// pssKB reads this process's proportional set size.
func pssKB() int {
	f, err := os.Open("/proc/self/smaps_rollup")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Pss:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}
