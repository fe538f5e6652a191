package pacing

import (
	"math"
)

// Outcome is how a dial ended, as the dialler learns it.
type Outcome int

const (
	// NoAnswer: nobody answered before the ringing timeout, or the carrier
	// refused the call (busy, unreachable).
	NoAnswer Outcome = iota
	// Human: a person answered.
	Human
	// Machine: an answering machine answered; no worker is needed.
	Machine
)

// String names the outcome for logs and metrics.
func (o Outcome) String() string {
	switch o {
	case Human:
		return "human"
	case Machine:
		return "machine"
	default:
		return "no_answer"
	}
}

// EstimatorConfig sets the priors and the memory of an [Estimator].
type EstimatorConfig struct {
	// RingTimeout is how long a dial rings before it is given up, in
	// seconds.
	RingTimeout float64
	// HalfLifeDials is how many dials it takes for an observation's weight
	// to halve; it trades reaction to a drifting answer rate against noise.
	HalfLifeDials float64
	// FastHalfLifeDials is the memory of a second, quicker estimate of the
	// answer rate (0: none). The pacer plans with the higher of the two, so
	// that an answer rate on the rise is followed within a few dozen
	// answers rather than after the long memory has caught up.
	FastHalfLifeDials float64
	// HalfLifeCalls is the same for handle times, counted in ended calls.
	HalfLifeCalls float64
	// PriorHuman and PriorMachine are the answer chances assumed before
	// anything is observed, worth PriorWeight dials.
	PriorHuman, PriorMachine, PriorWeight float64
	// PriorHandleMean and PriorHandleCV describe the handle time assumed
	// before any call has ended (seconds, coefficient of variation).
	PriorHandleMean, PriorHandleCV float64
}

// DefaultEstimatorConfig is a prior that fits an outbound campaign of
// unknown quality: a quarter of dials answered by people, two-minute calls.
func DefaultEstimatorConfig() EstimatorConfig {
	return EstimatorConfig{
		RingTimeout:       25,
		HalfLifeDials:     400,
		FastHalfLifeDials: 100,
		HalfLifeCalls:     200,
		PriorHuman:        0.25,
		PriorMachine:      0.1,
		PriorWeight:       20,
		PriorHandleMean:   120,
		PriorHandleCV:     0.5,
	}
}

// ringBins is the resolution of the ring-time histogram: one bin a second.
const ringBins = 64

// Estimator learns the world a campaign dials into. The zero value is not
// usable: build one with [NewEstimator]. It is not safe for concurrent use.
type Estimator struct {
	cfg EstimatorConfig

	dialDecay float64 // per observed dial
	fastDecay float64 // per observed dial, for the fast estimate
	callDecay float64 // per ended call

	// Decayed counts of dial outcomes, and how many dials have been
	// observed at all (not decayed, priors excluded).
	dials, humans, machines float64
	fastDials, fastHumans   float64
	observed                int
	// Decayed histogram of the ring time of answered dials (person or
	// machine), one bin a second, and its total.
	ring      [ringBins]float64
	ringTotal float64
	// cum[i] is the weight of the ring bins below i; valid unless dirty.
	cum   [ringBins + 1]float64
	dirty bool
	// Decayed moments of the logarithm of ended calls' handle times.
	hW, hSum, hSumSq float64
}

// NewEstimator returns an estimator holding only the priors of cfg.
func NewEstimator(cfg EstimatorConfig) *Estimator {
	if cfg.RingTimeout <= 0 {
		cfg.RingTimeout = DefaultEstimatorConfig().RingTimeout
	}
	if cfg.RingTimeout > ringBins-1 {
		cfg.RingTimeout = ringBins - 1
	}
	e := &Estimator{
		cfg:       cfg,
		dialDecay: halfLifeDecay(cfg.HalfLifeDials),
		fastDecay: halfLifeDecay(cfg.FastHalfLifeDials),
		callDecay: halfLifeDecay(cfg.HalfLifeCalls),
	}
	// Priors: answer chances as PriorWeight dials, ring times spread evenly
	// over the timeout, handle time as a log-normal worth a few calls.
	w := math.Max(cfg.PriorWeight, 1)
	e.dials = w
	e.humans = w * cfg.PriorHuman
	e.machines = w * cfg.PriorMachine
	e.fastDials, e.fastHumans = w, w*cfg.PriorHuman
	bins := int(math.Ceil(cfg.RingTimeout))
	for i := 0; i < bins; i++ {
		e.ring[i] = w / float64(bins)
	}
	e.ringTotal = w
	e.dirty = true
	mu, sigma := lognormalParams(cfg.PriorHandleMean, cfg.PriorHandleCV)
	const prior = 5
	e.hW = prior
	e.hSum = prior * mu
	e.hSumSq = prior * (sigma*sigma + mu*mu)
	return e
}

func halfLifeDecay(n float64) float64 {
	if n <= 0 {
		return 1
	}
	return math.Pow(0.5, 1/n)
}

// lognormalParams returns μ and σ of the log-normal with the given mean and
// coefficient of variation.
func lognormalParams(mean, cv float64) (mu, sigma float64) {
	if mean <= 0 {
		mean = 1
	}
	s2 := math.Log(1 + cv*cv)
	return math.Log(mean) - s2/2, math.Sqrt(s2)
}

// ObserveDial records how one dial ended; ringSeconds is how long it rang
// before a person or machine answered (ignored for NoAnswer).
func (e *Estimator) ObserveDial(o Outcome, ringSeconds float64) {
	e.observed++
	e.dials = e.dials*e.dialDecay + 1
	e.humans *= e.dialDecay
	e.machines *= e.dialDecay
	e.fastDials = e.fastDials*e.fastDecay + 1
	e.fastHumans *= e.fastDecay
	switch o {
	case Human:
		e.humans++
		e.fastHumans++
	case Machine:
		e.machines++
	}
	if o != Human && o != Machine {
		return
	}
	e.ringTotal = 0
	for i := range e.ring {
		e.ring[i] *= e.dialDecay
		e.ringTotal += e.ring[i]
	}
	b := int(ringSeconds)
	if b < 0 {
		b = 0
	}
	if b >= ringBins {
		b = ringBins - 1
	}
	e.ring[b]++
	e.ringTotal++
	e.dirty = true
}

// ObserveCall records the handle time of an ended call, in seconds.
func (e *Estimator) ObserveCall(handleSeconds float64) {
	if handleSeconds <= 0 {
		return
	}
	l := math.Log(handleSeconds)
	e.hW = e.hW*e.callDecay + 1
	e.hSum = e.hSum*e.callDecay + l
	e.hSumSq = e.hSumSq*e.callDecay + l*l
}

// PHuman is the estimated chance that a dial is answered by a person.
func (e *Estimator) PHuman() float64 { return e.humans / e.dials }

// PHumanUpper is an upper confidence bound of [Estimator.PHuman], z
// standard errors above it: what the pacer plans with, so that a rate it
// has not yet measured well errs towards fewer dials.
func (e *Estimator) PHumanUpper(z float64) float64 {
	p := e.PHuman()
	up := p + z*math.Sqrt(p*(1-p)/e.dials)
	if e.cfg.FastHalfLifeDials > 0 {
		up = math.Max(up, e.fastHumans/e.fastDials)
	}
	return math.Min(1, up)
}

// EffectiveDials is the decayed number of dials the answer rates are
// estimated from, priors included.
func (e *Estimator) EffectiveDials() float64 { return e.dials }

// Observed is how many dial outcomes have been observed since the start.
func (e *Estimator) Observed() int { return e.observed }

// PMachine is the estimated chance that a dial is answered by a machine.
func (e *Estimator) PMachine() float64 { return e.machines / e.dials }

// HandleMean is the estimated mean handle time in seconds.
func (e *Estimator) HandleMean() float64 {
	mu, sigma := e.handleParams()
	return math.Exp(mu + sigma*sigma/2)
}

func (e *Estimator) handleParams() (mu, sigma float64) {
	mu = e.hSum / e.hW
	v := e.hSumSq/e.hW - mu*mu
	if v < 1e-4 {
		v = 1e-4
	}
	return mu, math.Sqrt(v)
}

// handleParamsCensored fits the log-normal handle time to the ended calls
// and to the calls still in progress, ages seconds old, as right-censored
// observations (a few EM steps): early in a campaign only the short calls
// have ended, and a fit to those alone would predict workers freed far
// sooner than they are.
func (e *Estimator) handleParamsCensored(ages []float64) (mu, sigma float64) {
	mu, sigma = e.handleParams()
	if len(ages) == 0 {
		return mu, sigma
	}
	for range 3 {
		w, s1, s2 := e.hW, e.hSum, e.hSumSq
		for _, a := range ages {
			if a <= 0 {
				a = 1e-3
			}
			alpha := (math.Log(a) - mu) / sigma
			tail := 0.5 * math.Erfc(alpha/math.Sqrt2)
			if tail < 1e-12 {
				continue
			}
			lambda := math.Exp(-alpha*alpha/2) / math.Sqrt(2*math.Pi) / tail
			m1 := mu + sigma*lambda
			m2 := mu*mu + sigma*sigma + sigma*(math.Log(a)+mu)*lambda
			w++
			s1 += m1
			s2 += m2
		}
		mu = s1 / w
		v := s2/w - mu*mu
		if v < 1e-4 {
			v = 1e-4
		}
		sigma = math.Sqrt(v)
	}
	return mu, sigma
}

// RingCDF is the estimated chance that an answered dial has been answered
// within t seconds of being placed.
func (e *Estimator) RingCDF(t float64) float64 {
	if t <= 0 || e.ringTotal <= 0 {
		return 0
	}
	if t >= ringBins {
		return 1
	}
	if e.dirty {
		for i := 0; i < ringBins; i++ {
			e.cum[i+1] = e.cum[i] + e.ring[i]
		}
		e.dirty = false
	}
	i := int(t)
	below := e.cum[i] + e.ring[i]*(t-float64(i))
	return math.Min(1, below/e.ringTotal)
}

// RingTimeout is the configured ringing timeout in seconds.
func (e *Estimator) RingTimeout() float64 { return e.cfg.RingTimeout }

// handleCDF is the log-normal handle-time distribution function.
func handleCDF(mu, sigma, x float64) float64 {
	if x <= 0 {
		return 0
	}
	return 0.5 * math.Erfc(-(math.Log(x)-mu)/(sigma*math.Sqrt2))
}

// ObserveHungUp records a dial the dialler hung up after ringSeconds
// without an answer. Its outcome is censored, not a no-answer: it counts as
// what the dials still unanswered at that age go on to be, by the current
// estimates — a person, a machine or nobody in proportion, and the answers
// spread over the ring times after ringSeconds (Efron's redistribution to
// the right, which makes the estimates the Kaplan–Meier ones). Counting it
// as a no-answer would make the answer rate look lower than it is, and
// leaving it out would make it look higher.
func (e *Estimator) ObserveHungUp(ringSeconds float64) {
	pH, pM := e.PHuman(), e.PMachine()
	g := e.RingCDF(ringSeconds)
	still := 1 - (pH+pM)*g
	if still <= 1e-9 || g >= 1 {
		e.ObserveDial(NoAnswer, 0)
		return
	}
	h := pH * (1 - g) / still
	m := pM * (1 - g) / still
	// The later ring times, by the current estimate, before it changes.
	var later [ringBins]float64
	from := int(math.Max(ringSeconds, 0))
	for b := from; b < ringBins; b++ {
		lo := math.Max(float64(b), ringSeconds)
		later[b] = (e.RingCDF(float64(b+1)) - e.RingCDF(lo)) / (1 - g)
	}
	e.observed++
	e.dials = e.dials*e.dialDecay + 1
	e.humans = e.humans*e.dialDecay + h
	e.machines = e.machines*e.dialDecay + m
	e.fastDials = e.fastDials*e.fastDecay + 1
	e.fastHumans = e.fastHumans*e.fastDecay + h
	// The ring times decay per answer, as in ObserveDial: this dial is
	// h+m of one.
	decay := math.Pow(e.dialDecay, h+m)
	e.ringTotal = 0
	for b := range e.ring {
		e.ring[b] = e.ring[b]*decay + (h+m)*later[b]
		e.ringTotal += e.ring[b]
	}
	e.dirty = true
}
