package pacing

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	mod := func(f func(*Config)) Config { c := DefaultConfig(); f(&c); return c }
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"default", DefaultConfig(), true},
		{"cap zero", mod(func(c *Config) { c.Cap = 0 }), false},
		{"target at cap", mod(func(c *Config) { c.Target = c.Cap }), false},
		{"no hour guard", mod(func(c *Config) { c.HourGuard = 0 }), false},
		{"thresholds inverted", mod(func(c *Config) { c.MinThreshold, c.MaxThreshold = 0.5, 0.1 }), false},
		{"no gain", mod(func(c *Config) { c.Gain = 0 }), false},
		{"no dials per worker", mod(func(c *Config) { c.MaxDialsPerWorker = 0 }), false},
		{"hang-ups under the legal least ring", mod(func(c *Config) { c.PruneMinRing = MinRing - 1 }), false},
		{"hang-up limit of 1", mod(func(c *Config) { c.PruneLimit = 1 }), false},
		{"no hang-ups, any least ring", mod(func(c *Config) { c.PruneLimit, c.PruneMinRing = 0, 0 }), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
			if _, err := New(tt.cfg); (err == nil) != tt.ok {
				t.Fatalf("New() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// feed reports n dials to e: 3 in 10 answered by a person and 1 in 10 by a
// machine, ringing 5 to 24 s.
func feed(e *Estimator, n int) {
	for i := 0; i < n; i++ {
		ring := 5 + float64(i%20)
		switch {
		case i%10 < 3:
			e.ObserveDial(Human, ring)
		case i%10 == 3:
			e.ObserveDial(Machine, ring)
		default:
			e.ObserveDial(NoAnswer, 0)
		}
	}
}

func TestEstimatorLearns(t *testing.T) {
	e := NewEstimator(DefaultEstimatorConfig())
	if got := e.PHuman(); math.Abs(got-0.25) > 1e-9 {
		t.Fatalf("prior PHuman = %v, want 0.25", got)
	}
	feed(e, 2000)
	for i := 0; i < 1000; i++ {
		e.ObserveCall([]float64{60, 180}[i%2])
	}
	if got := e.PHuman(); math.Abs(got-0.3) > 0.02 {
		t.Errorf("PHuman = %.3f, want 0.30±0.02", got)
	}
	if got := e.PMachine(); math.Abs(got-0.1) > 0.02 {
		t.Errorf("PMachine = %.3f, want 0.10±0.02", got)
	}
	if up := e.PHumanUpper(1); up <= e.PHuman() || up > e.PHuman()+0.05 {
		t.Errorf("PHumanUpper(1) = %.3f for PHuman %.3f", up, e.PHuman())
	}
	if got := e.RingCDF(4.9); got > 0.02 {
		t.Errorf("RingCDF(4.9) = %.3f: nothing rings under 5 s", got)
	}
	if got := e.RingCDF(25); got < 0.98 {
		t.Errorf("RingCDF(25) = %.3f: everything was answered by 25 s", got)
	}
	if a, b := e.RingCDF(10), e.RingCDF(20); !(a < b) {
		t.Errorf("RingCDF not increasing: %v at 10 s, %v at 20 s", a, b)
	}
	// Log-normal fit of 60 s and 180 s in equal numbers: mean ≈ 121 s.
	if got := e.HandleMean(); math.Abs(got-121) > 6 {
		t.Errorf("HandleMean = %.1f, want ≈121", got)
	}
	if e.Observed() != 2000 {
		t.Errorf("Observed = %d, want 2000", e.Observed())
	}
}

// trained returns a pacer that has seen enough dials to pace.
func trained(t *testing.T) *Pacer {
	t.Helper()
	p, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	feed(p.Estimator(), 1000)
	for i := 0; i < 300; i++ {
		p.Estimator().ObserveCall([]float64{60, 180}[i%2])
	}
	return p
}

func ages(n int, age float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = age
	}
	return out
}

func TestDecideModes(t *testing.T) {
	fresh, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	quietHour := Tally{HumanAnswers: 200, Abandons: 1}
	tests := []struct {
		name      string
		p         *Pacer
		snap      Snapshot
		mode      Mode
		dials     int // -1: any positive count
		wantAbove int // dials must exceed this
	}{
		{"learning: one per free worker", fresh,
			Snapshot{Free: 5, Ringing: ages(2, 3)}, Learning, 3, 0},
		{"24 hours over the cap", trained(t),
			Snapshot{Free: 5, Ringing: ages(1, 3), Busy: ages(20, 300), Day: Tally{1000, 40}}, OnePerFree, 4, 0},
		{"30 days over the cap", trained(t),
			Snapshot{Free: 5, Busy: ages(20, 300), Month: Tally{10000, 301}}, OnePerFree, 5, 0},
		{"too few answers to judge the day", trained(t),
			Snapshot{Free: 5, Busy: ages(20, 300), Day: Tally{50, 5}, Hour: quietHour}, Predictive, -1, 5},
		{"rolling hour near the cap", trained(t),
			Snapshot{Free: 5, Busy: ages(20, 60), Hour: Tally{400, 11}}, Guarded, -1, 0},
		{"first answers of the hour: abandons count against MinTally answers", trained(t),
			Snapshot{Free: 5, Busy: ages(20, 60), Hour: Tally{50, 9}}, Guarded, -1, 0},
		{"first answers of the day: abandons count against MinTally answers", trained(t),
			Snapshot{Free: 5, Busy: ages(20, 60), Day: Tally{50, 9}}, OnePerFree, 5, 0},
		{"predictive dials ahead of free workers", trained(t),
			Snapshot{Free: 5, Busy: ages(20, 300), Hour: quietHour}, Predictive, -1, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.p.Decide(tt.snap)
			if d.Mode != tt.mode {
				t.Fatalf("mode = %v, want %v (%+v)", d.Mode, tt.mode, d)
			}
			if tt.dials >= 0 && d.Dials != tt.dials {
				t.Fatalf("dials = %d, want %d", d.Dials, tt.dials)
			}
			if d.Dials <= tt.wantAbove {
				t.Fatalf("dials = %d, want more than %d", d.Dials, tt.wantAbove)
			}
		})
	}
}

func TestDecideFollowsTheState(t *testing.T) {
	p := trained(t)
	hour := Tally{HumanAnswers: 200, Abandons: 1}
	dials := func(s Snapshot) int { s.Hour = hour; return p.Decide(s).Dials }

	// More free workers never means fewer dials.
	prev := 0
	for free := 0; free <= 20; free++ {
		n := dials(Snapshot{Free: free, Busy: ages(20-free, 60)})
		if n < prev {
			t.Fatalf("free=%d: %d dials, fewer than %d with one less free worker", free, n, prev)
		}
		prev = n
	}
	// Calls that have just started will not free a worker within a ring
	// timeout; calls far past the mean handle time will: the pacer dials
	// ahead of them.
	if n := dials(Snapshot{Busy: ages(20, 0)}); n != 0 {
		t.Errorf("no free worker, every call just started: %d dials, want 0", n)
	}
	young := dials(Snapshot{Free: 3, Busy: ages(20, 0)})
	old := dials(Snapshot{Free: 3, Busy: ages(20, 400)})
	if old <= young {
		t.Errorf("3 free workers: %d dials with 20 calls far past the mean, want more than %d with 20 calls just started", old, young)
	}
	// Dials already ringing stand for future answers.
	idle := dials(Snapshot{Free: 10, Busy: ages(10, 60)})
	ringing := dials(Snapshot{Free: 10, Busy: ages(10, 60), Ringing: ages(15, 2)})
	if ringing >= idle {
		t.Errorf("15 dials ringing: %d new dials, want fewer than %d", ringing, idle)
	}
	// MaxDials bounds the answer.
	if n := dials(Snapshot{Free: 10, Busy: ages(10, 60), MaxDials: 2}); n != 2 {
		t.Errorf("MaxDials 2: %d dials", n)
	}
	if n := dials(Snapshot{}); n != 0 {
		t.Errorf("no worker at all: %d dials", n)
	}
}

// TestHandleFitCensored: early in a campaign only short calls have ended;
// counting the calls in progress as at least their age keeps the fitted
// mean near the truth instead of at the short calls' mean.
func TestHandleFitCensored(t *testing.T) {
	e := NewEstimator(DefaultEstimatorConfig())
	for i := 0; i < 30; i++ {
		e.ObserveCall(40 + float64(i)) // the first calls to end: 40–69 s
	}
	naive := e.HandleMean()
	mu, sigma := e.handleParamsCensored(ages(40, 90)) // 40 calls still going at 90 s
	fitted := math.Exp(mu + sigma*sigma/2)
	if naive > 70 {
		t.Fatalf("mean of the ended calls alone = %.0f s, want under 70", naive)
	}
	if fitted < 85 {
		t.Errorf("censored fit mean = %.0f s, want over 85 (40 of 70 calls last longer than 90 s)", fitted)
	}
	if mu2, s2 := e.handleParamsCensored(nil); mu2 != e.hSum/e.hW || s2 <= 0 {
		t.Errorf("no call in progress: fit (%v, %v) differs from the ended calls'", mu2, s2)
	}
}

func TestThresholdSteering(t *testing.T) {
	cfg := DefaultConfig()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := p.Threshold()
	if math.Abs(start-cfg.Target) > 1e-12 {
		t.Fatalf("threshold starts at %v, want the target %v", start, cfg.Target)
	}
	p.ObserveAnswer(true)
	if p.Threshold() >= start {
		t.Fatalf("an abandon did not lower the threshold: %v", p.Threshold())
	}
	// At exactly the target rate the threshold comes back where it was.
	p2, _ := New(cfg)
	n := int(math.Round(1 / cfg.Target))
	for round := 0; round < 10; round++ {
		p2.ObserveAnswer(true)
		for i := 0; i < n-1; i++ {
			p2.ObserveAnswer(false)
		}
	}
	if got := p2.Threshold(); math.Abs(math.Log(got/start)) > 0.05 {
		t.Errorf("abandoning at the target rate moved the threshold from %v to %v", start, got)
	}
	for i := 0; i < 10000; i++ {
		p.ObserveAnswer(true)
	}
	if got := p.Threshold(); math.Abs(got-cfg.MinThreshold) > 1e-12 {
		t.Errorf("threshold after many abandons = %v, want the floor %v", got, cfg.MinThreshold)
	}
	for i := 0; i < 1000000; i++ {
		p.ObserveAnswer(false)
	}
	if got := p.Threshold(); math.Abs(got-cfg.MaxThreshold) > 1e-12 {
		t.Errorf("threshold after many answers = %v, want the ceiling %v", got, cfg.MaxThreshold)
	}
}

// TestTargetFollowsTheHoursVolume: a campaign with few answers an hour is
// steered to a lower abandon rate, so that chance alone does not carry a
// rolling hour over the cap; a large one is steered to Config.Target.
func TestTargetFollowsTheHoursVolume(t *testing.T) {
	cfg := DefaultConfig()
	for _, tc := range []struct {
		answers int
		lower   bool
	}{{0, true}, {200, true}, {500, true}, {20000, false}} {
		p := trained(t)
		p.Decide(Snapshot{Free: 5, Busy: ages(20, 60), Hour: Tally{HumanAnswers: tc.answers}})
		bound := math.Max(cfg.Cap/10, cfg.Cap-cfg.HourZ*math.Sqrt(cfg.Cap/float64(max(tc.answers, cfg.HourMinTally))))
		switch {
		case tc.lower && (p.target >= cfg.Target || p.target > bound+1e-12):
			t.Errorf("%d answers an hour: target %.4f, want at most %.4f", tc.answers, p.target, bound)
		case !tc.lower && p.target != cfg.Target:
			t.Errorf("%d answers an hour: target %.4f, want %.4f", tc.answers, p.target, cfg.Target)
		}
	}
}

// TestFastEstimateFollowsARise: after a long run at 10% an answer rate that
// rises to 50% is planned with within a couple of hundred dials, while the
// long memory still lags.
func TestFastEstimateFollowsARise(t *testing.T) {
	e := NewEstimator(DefaultEstimatorConfig())
	for i := 0; i < 3000; i++ {
		e.ObserveDial([]Outcome{Human, NoAnswer, NoAnswer, NoAnswer, NoAnswer, NoAnswer, NoAnswer, NoAnswer, NoAnswer, NoAnswer}[i%10], 10)
	}
	for i := 0; i < 200; i++ {
		e.ObserveDial([]Outcome{Human, NoAnswer}[i%2], 10)
	}
	if slow := e.PHuman(); slow > 0.3 {
		t.Fatalf("long-memory estimate %.3f already caught up", slow)
	}
	if plan := e.PHumanUpper(0); plan < 0.35 {
		t.Errorf("planned answer rate %.3f after 200 dials at 50%%, want at least 0.35", plan)
	}
	cfg := DefaultEstimatorConfig()
	cfg.FastHalfLifeDials = 0
	e2 := NewEstimator(cfg)
	e2.ObserveDial(Human, 10)
	if e2.PHumanUpper(0) != e2.PHuman() {
		t.Errorf("without the fast estimate the plan %.3f differs from the estimate %.3f", e2.PHumanUpper(0), e2.PHuman())
	}
}

// TestPrune: with every worker taken and none coming free soon, the dials
// that have rung the least ring are hung up, the riskiest first, and the
// younger ones ring on; with workers free for their answers, none is; a
// pacer still learning, or told not to, hangs up nothing.
func TestPrune(t *testing.T) {
	p := trained(t)
	full := Snapshot{Free: 0, Busy: ages(10, 5), Ringing: []float64{5, 18, 20, 16.9, 22}}
	got := p.Prune(full)
	slices.Sort(got)
	if want := []int{1, 2, 4}; !slices.Equal(got, want) {
		t.Errorf("no worker free: hung up %v, want %v (the dials that rang at least %v s)", got, want, p.cfg.PruneMinRing)
	}
	if got := p.Prune(Snapshot{Free: 10, Busy: ages(10, 5), Ringing: []float64{18, 20, 22}}); len(got) != 0 {
		t.Errorf("ten workers free for three dials: hung up %v, want none", got)
	}
	// One free worker for one old dial: no other answer can take it first.
	if got := p.Prune(Snapshot{Free: 1, Busy: ages(10, 5), Ringing: []float64{18}}); len(got) != 0 {
		t.Errorf("one free worker for one old dial: hung up %v, want none", got)
	}
	// One free worker for eight old dials: some ring on, as each one hung
	// up lowers the risk of the rest.
	if got := p.Prune(Snapshot{Free: 1, Busy: ages(10, 5), Ringing: ages(8, 18)}); len(got) == 0 || len(got) == 8 {
		t.Errorf("one free worker for eight old dials: hung up %v, want some but not all", got)
	}

	learning, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if got := learning.Prune(full); len(got) != 0 {
		t.Errorf("a pacer still learning hung up %v", got)
	}
	cfg := DefaultConfig()
	cfg.PruneLimit = 0
	off, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	feed(off.Estimator(), 1000)
	if got := off.Prune(full); len(got) != 0 {
		t.Errorf("PruneLimit 0 hung up %v", got)
	}
}

// TestHungUpDialsKeepTheAnswerRate: dials hung up after 17 s of ringing
// are censored observations. Counting them as no-answers would make the
// answer rate look lower than it is (and the pacer over-dial); the
// estimate stays at the true 30%.
func TestHungUpDialsKeepTheAnswerRate(t *testing.T) {
	e := NewEstimator(DefaultEstimatorConfig())
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		ring := 5 + 20*rng.Float64()
		u := rng.Float64()
		switch {
		case u < 0.4 && ring < 17: // answered before the hang-up
			if u < 0.3 {
				e.ObserveDial(Human, ring)
			} else {
				e.ObserveDial(Machine, ring)
			}
		case rng.Float64() < 0.5: // half of the rest are hung up at 17 s
			e.ObserveHungUp(17)
		case u < 0.3:
			e.ObserveDial(Human, ring)
		case u < 0.4:
			e.ObserveDial(Machine, ring)
		default:
			e.ObserveDial(NoAnswer, 0)
		}
	}
	if got := e.PHuman(); math.Abs(got-0.3) > 0.03 {
		t.Errorf("PHuman = %.3f with hung-up dials, want 0.30±0.03", got)
	}
}
