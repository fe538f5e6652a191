package pacing

import (
	"fmt"
	"math"
	"slices"
)

// Tally counts people who answered and calls abandoned over a window.
type Tally struct {
	HumanAnswers int
	Abandons     int
}

// Rate is the abandon rate of the window: abandons per person who answered.
func (t Tally) Rate() float64 {
	if t.HumanAnswers <= 0 {
		return 0
	}
	return float64(t.Abandons) / float64(t.HumanAnswers)
}

// reaches reports whether the window's abandons reach rate times its
// answers, counting at least floor answers: a few abandons among the
// first answers of a window are not yet a rate, but they count against
// its budget.
func (t Tally) reaches(rate float64, floor int) bool {
	return t.Abandons > 0 && float64(t.Abandons) >= rate*float64(max(t.HumanAnswers, floor))
}

// Snapshot is what the dialler observes at a tick, for one pool of workers.
type Snapshot struct {
	// Free is the number of workers ready for a call now.
	Free int
	// Busy holds the age in seconds of each call in progress.
	Busy []float64
	// Ringing holds the age in seconds of each dial still ringing.
	Ringing []float64
	// MaxDials bounds the answer (contacts left, carrier limits); 0 means
	// no bound other than the pacer's own.
	MaxDials int
	// Hour, Day and Month are the abandon tallies of the last 60 minutes,
	// 24 hours and 30 days.
	Hour, Day, Month Tally
}

// Mode says which rule produced a [Decision].
type Mode int

const (
	// Predictive: dials placed while the last one's chance of being
	// abandoned stays under the steered threshold.
	Predictive Mode = iota
	// Guarded: the rolling hour is near the cap; dials placed only where a
	// worker is all but certain to be free.
	Guarded
	// OnePerFree: the 24-hour or 30-day abandon rate is over the cap; one
	// dial per free worker not already covered by a ringing call.
	OnePerFree
	// Learning: too few dials have ended to know the answer rate; dialled
	// as OnePerFree until they have.
	Learning
)

// String names the mode for logs, metrics and /health.
func (m Mode) String() string {
	switch m {
	case Guarded:
		return "guarded"
	case OnePerFree:
		return "one_per_free"
	case Learning:
		return "learning"
	default:
		return "predictive"
	}
}

// Decision is the pacer's answer for one tick.
type Decision struct {
	Dials int
	Mode  Mode
	// Threshold is the chance of abandon allowed for the last dial.
	Threshold float64
	// Marginal is the predicted chance that the last dial placed is
	// abandoned (0 when no dial is placed).
	Marginal float64
}

// Config tunes a [Pacer].
type Config struct {
	// Cap is the legal abandon rate that must never be exceeded (0.03).
	Cap float64
	// Target is the abandon rate the threshold is steered to, below Cap.
	Target float64
	// HourGuard is the share of Cap at which the rolling hour switches to
	// Guarded mode.
	HourGuard float64
	// Gain is how fast the threshold moves with each answer or abandon.
	Gain float64
	// MinThreshold and MaxThreshold bound the steered threshold;
	// GuardThreshold is the one used in Guarded mode. A low MaxThreshold
	// keeps the threshold from winding up while a falling answer rate
	// leaves the pacer short of answers (no abandons for a long while), so
	// that it does not over-dial when the rate turns and rises again.
	MinThreshold, MaxThreshold, GuardThreshold float64
	// HourZ lowers the target where a rolling hour holds few answers: the
	// target is at most Cap − HourZ × √(Cap / answers of the last hour), so
	// that an hour of chance abandons at that rate stays under the cap.
	HourZ float64
	// HourMinTally is the least number of answers the rolling hour is
	// counted with, for HourZ and for its guard.
	HourMinTally int
	// MinTally is the least number of answers a window's abandons are
	// measured against: until that many people have answered in the rolling
	// hour, 24 hours or 30 days, its budget is Cap (or HourGuard × Cap)
	// times MinTally abandons rather than a rate of the few answers so far.
	MinTally int
	// MaxDialsPerWorker bounds the dials of one tick per worker in the pool.
	MaxDialsPerWorker float64
	// LearnDials is how many dial outcomes must be observed before the
	// pacer dials ahead of free workers.
	LearnDials int
	// Confidence is how many standard errors above its estimate the answer
	// rate is planned with.
	Confidence float64
	// RateVariance weighs the uncertainty of the answer-rate estimate in
	// the predicted free count (1: as estimated; 0: ignored): every dial
	// in flight is answered at the same unknown rate, so an estimate made
	// from few dials makes all of them err together.
	RateVariance float64
	// CensoredHandle fits the handle-time distribution to the calls in
	// progress as well as to the ended ones (as right-censored
	// observations), so that the short calls which end first do not make
	// the pacer expect workers back sooner than they come.
	CensoredHandle bool
	// PruneMinRing is the least a dial rings before the pacer may hang it
	// up, in seconds, counted from when it was placed: at least MinRing,
	// with room for the carrier's call set-up before the phone rings.
	PruneMinRing float64
	// PruneLimit is the predicted chance of abandon above which a dial that
	// has rung PruneMinRing is hung up (0: dials ring until answered or the
	// ring timeout). See [Pacer.Prune].
	PruneLimit float64
	// Estimator configures the world model.
	Estimator EstimatorConfig
}

// MinRing is the least a dial rings before the dialler may hang it up
// unanswered, in seconds: 15, what the US (47 CFR 64.1200(a)(6)) and UK
// (Ofcom's persistent misuse policy) rules require.
const MinRing = 15

// DefaultConfig keeps every window under the 3% cap with margin.
func DefaultConfig() Config {
	return Config{
		Cap:               0.03,
		Target:            0.018,
		HourGuard:         0.9,
		Gain:              0.1,
		MinThreshold:      0.002,
		MaxThreshold:      0.08,
		GuardThreshold:    0.001,
		HourZ:             2,
		HourMinTally:      100,
		MinTally:          300,
		MaxDialsPerWorker: 1,
		LearnDials:        30,
		Confidence:        0,
		RateVariance:      1,
		CensoredHandle:    true,
		PruneMinRing:      MinRing + 2,
		PruneLimit:        0.05,
		Estimator:         DefaultEstimatorConfig(),
	}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Cap <= 0 || c.Cap >= 1:
		return fmt.Errorf("pacing: cap %v must be in (0, 1)", c.Cap)
	case c.Target <= 0 || c.Target >= c.Cap:
		return fmt.Errorf("pacing: target %v must be in (0, cap %v)", c.Target, c.Cap)
	case c.HourGuard <= 0 || c.HourGuard > 1:
		return fmt.Errorf("pacing: hour guard %v must be in (0, 1]", c.HourGuard)
	case c.MinThreshold <= 0 || c.MaxThreshold < c.MinThreshold || c.MaxThreshold >= 1:
		return fmt.Errorf("pacing: thresholds [%v, %v] must satisfy 0 < min <= max < 1", c.MinThreshold, c.MaxThreshold)
	case c.GuardThreshold <= 0:
		return fmt.Errorf("pacing: guard threshold %v must be > 0", c.GuardThreshold)
	case c.Gain <= 0:
		return fmt.Errorf("pacing: gain %v must be > 0", c.Gain)
	case c.MaxDialsPerWorker <= 0:
		return fmt.Errorf("pacing: max dials per worker %v must be > 0", c.MaxDialsPerWorker)
	case c.PruneLimit < 0 || c.PruneLimit >= 1:
		return fmt.Errorf("pacing: prune limit %v must be in [0, 1)", c.PruneLimit)
	case c.PruneLimit > 0 && c.PruneMinRing < MinRing:
		return fmt.Errorf("pacing: prune min ring %vs must be at least %vs", c.PruneMinRing, MinRing)
	}
	return nil
}

// Pacer decides the dials of one pool of workers (one campaign, or the
// campaigns sharing a fleet before fair share splits the answer). It is not
// safe for concurrent use.
type Pacer struct {
	cfg Config
	est *Estimator
	// logTheta is the logarithm of the steered threshold.
	logTheta float64
	// target is the abandon rate steered to now: Config.Target, or less
	// where the rolling hour has too few answers to hold it under the cap
	// (see Config.HourZ).
	target float64

	// Scratch buffers reused between ticks.
	relMean, relVar, ansMean, ansVar, newAns, answerPDF []float64
	// rateVar is the relative variance of the answer-rate estimate,
	// Var(p̂)/p̂², times Config.RateVariance.
	rateVar float64
}

// New returns a pacer with its threshold at the target.
func New(cfg Config) (*Pacer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Pacer{
		cfg:      cfg,
		est:      NewEstimator(cfg.Estimator),
		logTheta: math.Log(cfg.Target),
		target:   cfg.Target,
	}, nil
}

// Estimator returns the world model the pacer learns into; the dialler
// reports dial outcomes and handle times to it.
func (p *Pacer) Estimator() *Estimator { return p.est }

// Threshold is the current steered threshold.
func (p *Pacer) Threshold() float64 { return math.Exp(p.logTheta) }

// ObserveAnswer steers the threshold with one person who answered: up a
// little when a worker took the call, down a lot when it was abandoned, so
// that the long-run abandon rate settles on the target.
func (p *Pacer) ObserveAnswer(abandoned bool) {
	if abandoned {
		p.logTheta -= p.cfg.Gain * (1 - p.target)
	} else {
		p.logTheta += p.cfg.Gain * p.target
	}
	lo, hi := math.Log(p.cfg.MinThreshold), math.Log(p.cfg.MaxThreshold)
	p.logTheta = math.Max(lo, math.Min(hi, p.logTheta))
}

// Decide returns how many dials to place now.
func (p *Pacer) Decide(s Snapshot) Decision {
	limit := int(math.Ceil(p.cfg.MaxDialsPerWorker * float64(s.Free+len(s.Busy))))
	if s.MaxDials > 0 && s.MaxDials < limit {
		limit = s.MaxDials
	}
	if limit <= 0 {
		return Decision{}
	}
	if s.Day.reaches(p.cfg.Cap, p.cfg.MinTally) || s.Month.reaches(p.cfg.Cap, p.cfg.MinTally) {
		return Decision{Dials: clamp(s.Free-len(s.Ringing), 0, limit), Mode: OnePerFree}
	}
	if p.est.Observed() < p.cfg.LearnDials {
		return Decision{Dials: clamp(s.Free-len(s.Ringing), 0, limit), Mode: Learning}
	}
	mode, theta := Predictive, p.Threshold()
	p.target = p.cfg.Target
	if p.cfg.HourZ > 0 {
		n := float64(max(s.Hour.HumanAnswers, p.cfg.HourMinTally, 1))
		p.target = math.Max(p.cfg.Cap/10, math.Min(p.cfg.Target, p.cfg.Cap-p.cfg.HourZ*math.Sqrt(p.cfg.Cap/n)))
	}
	if p.hourNearCap(s.Hour) {
		mode, theta = Guarded, p.cfg.GuardThreshold
	}
	p.prepare(s)
	// The marginal chance grows with the number of dials: find the largest
	// count whose last dial stays under the threshold.
	if m := p.marginal(s.Free, 1); m > theta {
		return Decision{Mode: mode, Threshold: theta}
	}
	lo, hi := 1, limit // marginal(lo) <= theta
	if p.marginal(s.Free, hi) <= theta {
		lo = hi
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if p.marginal(s.Free, mid) <= theta {
			lo = mid
		} else {
			hi = mid
		}
	}
	return Decision{Dials: lo, Mode: mode, Threshold: theta, Marginal: p.marginal(s.Free, lo)}
}

// hourNearCap reports whether the rolling hour's abandons have reached
// HourGuard × its budget (Cap × its answers, counting at least
// HourMinTally), or its budget less one standard deviation of chance
// abandons, whichever is lower: a small campaign keeps more headroom for
// the answers of dials already ringing.
func (p *Pacer) hourNearCap(t Tally) bool {
	budget := p.cfg.Cap * float64(max(t.HumanAnswers, p.cfg.HourMinTally))
	at := math.Min(p.cfg.HourGuard*budget, budget-math.Sqrt(budget))
	return t.Abandons > 0 && float64(t.Abandons) >= at
}

// horizon is the number of one-second steps looked ahead: one ring timeout.
func (p *Pacer) horizon() int { return int(math.Ceil(p.est.RingTimeout())) }

// prepare computes, for each second k ahead, the expected workers released
// by calls in progress, the expected people answering dials already
// ringing, and what one new dial adds.
func (p *Pacer) prepare(s Snapshot) {
	k := p.horizon()
	p.relMean = resize(p.relMean, k+1)
	p.relVar = resize(p.relVar, k+1)
	p.ansMean = resize(p.ansMean, k+1)
	p.ansVar = resize(p.ansVar, k+1)
	p.newAns = resize(p.newAns, k+1)
	p.answerPDF = resize(p.answerPDF, k+1)

	mu, sigma := p.est.handleParams()
	if p.cfg.CensoredHandle {
		mu, sigma = p.est.handleParamsCensored(s.Busy)
	}
	mean := math.Exp(mu + sigma*sigma/2)
	for _, b := range s.Busy {
		fb := handleCDF(mu, sigma, b)
		surv := 1 - fb
		for i := 1; i <= k; i++ {
			var q float64
			if surv < 1e-9 {
				q = 1 - math.Exp(-float64(i)/mean) // far in the tail: memoryless
			} else {
				q = (handleCDF(mu, sigma, b+float64(i)) - fb) / surv
			}
			p.relMean[i] += q
			p.relVar[i] += q * (1 - q)
		}
	}
	pH := p.est.PHumanUpper(p.cfg.Confidence)
	p.rateVar = 0
	if ph := p.est.PHuman(); ph > 0 {
		p.rateVar = p.cfg.RateVariance * (1 - ph) / (ph * p.est.EffectiveDials())
	}
	pA := math.Min(1, pH+p.est.PMachine())
	timeout := p.est.RingTimeout()
	for _, a := range s.Ringing {
		ga := p.est.RingCDF(a)
		still := 1 - pA*ga
		if still <= 1e-9 || a >= timeout {
			continue
		}
		for i := 1; i <= k; i++ {
			q := pH * (p.est.RingCDF(a+float64(i)) - ga) / still
			p.ansMean[i] += q
			p.ansVar[i] += q * (1 - q)
		}
	}
	prev := 0.0
	for i := 1; i <= k; i++ {
		g := p.est.RingCDF(float64(i))
		p.newAns[i] = pH * g
		p.answerPDF[i] = g - prev
		prev = g
	}
}

// marginal is the predicted chance that the n-th of n new dials, if a
// person answers it, finds no free worker: the free count when it is
// answered, net of the other n-1 new dials, is at most zero. Counts are
// taken as normal with the means and variances of their Bernoulli sums.
func (p *Pacer) marginal(free, n int) float64 {
	others := float64(n - 1)
	var m, mass float64
	for i := 1; i < len(p.answerPDF); i++ {
		w := p.answerPDF[i]
		if w <= 0 {
			continue
		}
		g := p.newAns[i]
		mean := float64(free) + p.relMean[i] - p.ansMean[i] - others*g
		// Every answer in flight errs with the answer-rate estimate.
		ans := p.ansMean[i] + others*g
		v := p.relVar[i] + p.ansVar[i] + others*g*(1-g) + 0.25 + p.rateVar*ans*ans
		m += w * normalCDF((0.5-mean)/math.Sqrt(v))
		mass += w
	}
	if mass <= 0 {
		return 0
	}
	return m / mass
}

func normalCDF(z float64) float64 { return 0.5 * math.Erfc(-z/math.Sqrt2) }

// poissonDeficit is P(A >= free + R) for independent Poisson counts R (mean
// rel: workers released) and A (mean ans: people answering): the chance
// that free workers and those released are all taken.
func poissonDeficit(free int, rel, ans float64) float64 {
	if ans <= 0 {
		if free <= 0 {
			return 1
		}
		return 0
	}
	// tail[k] = P(A >= k), built up from the pmf.
	kMax := free + int(rel+10*math.Sqrt(rel)+10)
	var total float64
	pr := math.Exp(-rel) // P(R = 0)
	for r := 0; free+r <= kMax; r++ {
		total += pr * poissonTail(free+r, ans)
		pr *= rel / float64(r+1)
		if pr < 1e-12 && float64(r) > rel {
			break
		}
	}
	return math.Min(1, total)
}

// poissonTail is P(A >= k) for A Poisson with mean m.
func poissonTail(k int, m float64) float64 {
	if k <= 0 {
		return 1
	}
	// 1 - P(A <= k-1)
	pmf, cdf := math.Exp(-m), 0.0
	for j := 0; j < k; j++ {
		cdf += pmf
		pmf *= m / float64(j+1)
	}
	return math.Max(0, 1-cdf)
}

func resize(b []float64, n int) []float64 {
	if cap(b) < n {
		return make([]float64, n)
	}
	b = b[:n]
	for i := range b {
		b[i] = 0
	}
	return b
}

func clamp(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// Prune returns the indices in s.Ringing of the dials to hang up now,
// before Decide (which is then given the snapshot without them): dials that
// have rung at least Config.PruneMinRing seconds and whose chance of finding
// no free worker, should a person answer them, is over Config.PruneLimit.
// The riskiest goes first, and each one hung up lowers the risk of the
// others. A dial is placed on a forecast 5 to 25 seconds ahead; by the time
// it has rung 15 seconds the dialler knows much more about the workers its
// answer would need, and hanging up the few that would now likely be
// abandoned costs a few answers and saves most abandons. None while the
// pacer is still learning, and none when PruneLimit is 0.
func (p *Pacer) Prune(s Snapshot) []int {
	if p.cfg.PruneLimit <= 0 || p.est.Observed() < p.cfg.LearnDials {
		return nil
	}
	p.prepare(s)
	k := p.horizon()
	pH := p.est.PHumanUpper(p.cfg.Confidence)
	pA := math.Min(1, pH+p.est.PMachine())
	timeout := p.est.RingTimeout()
	var out []int
	for {
		worst, worstRisk := -1, p.cfg.PruneLimit
		for j, a := range s.Ringing {
			if a < p.cfg.PruneMinRing || a >= timeout || slices.Contains(out, j) {
				continue
			}
			if r := p.ringingRisk(s.Free, a, pH, pA, k); r > worstRisk {
				worst, worstRisk = j, r
			}
		}
		if worst < 0 {
			return out
		}
		out = append(out, worst)
		// The others no longer count on its answer.
		a := s.Ringing[worst]
		ga := p.est.RingCDF(a)
		still := 1 - pA*ga
		for i := 1; i <= k; i++ {
			q := pH * (p.est.RingCDF(a+float64(i)) - ga) / still
			p.ansMean[i] -= q
			p.ansVar[i] -= q * (1 - q)
		}
	}
}

// ringingRisk is the predicted chance that a dial which has rung a seconds,
// if a person answers it, finds no free worker (prepare must have run with
// it among the ringing dials).
func (p *Pacer) ringingRisk(free int, a, pH, pA float64, k int) float64 {
	ga := p.est.RingCDF(a)
	still := 1 - pA*ga
	if still <= 1e-9 {
		return 0
	}
	var risk, mass float64
	prev := ga
	for i := 1; i <= k; i++ {
		g := p.est.RingCDF(a + float64(i))
		w := pH * (g - prev) / still // answered in second i
		prev = g
		if w <= 0 {
			continue
		}
		// No worker is free when it is answered if the other dials'
		// answers by then outnumber the free workers and the calls that
		// end meanwhile. Both are counts of rare events, often a handful,
		// where a normal approximation errs badly (one free worker and no
		// other dial ringing is no risk at all): take them as Poisson.
		own := pH * (g - ga) / still
		risk += w * poissonDeficit(free, p.relMean[i], math.Max(p.ansMean[i]-own, 0))
		mass += w
	}
	if mass <= 0 {
		return 0
	}
	return risk / mass
}
