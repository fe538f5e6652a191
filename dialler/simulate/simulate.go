package simulate

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/voxplatform/vox/dialler"
)

// Outcome is what happens to one simulated call.
type Outcome int

const (
	// Answer: a person answers after a ring time; a worker takes the call
	// if one is free.
	Answer Outcome = iota
	// NoAnswer: it rings until the ringing timeout (SIP 480).
	NoAnswer
	// Busy: the line is busy (SIP 486).
	Busy
	// Fail: the carrier refuses the call (SIP 503).
	Fail
	// AnswerNoWorker: a person answers and every worker is taken: the call
	// is abandoned whatever the pool's state.
	AnswerNoWorker
)

// Config describes the world.
type Config struct {
	Workers    int           // fleet workers
	PAnswer    float64       // chance a person answers
	PBusy      float64       // chance the line is busy
	PFail      float64       // chance the call fails
	RingMin    time.Duration // an answer comes after U(RingMin, RingMax)
	RingMax    time.Duration
	HandleMean time.Duration // log-normal handle time
	HandleCV   float64
	Seed       uint64
	// Script, when set, decides each dial's outcome instead of chance.
	Script func(dialler.Dial) Outcome
	// Log, when set, receives one line per call placed:
	// "placed <call_id> <contact_id> <to>".
	Log io.Writer
}

// World is a simulated carrier and fleet.
type World struct {
	cfg Config

	mu     sync.Mutex // guards rng, busy, live, timers, closed
	rng    *rand.Rand
	busy   int
	live   map[string]bool // call ids whose call is up
	timers map[*time.Timer]bool
	closed bool
	placed int
}

// New returns a world.
func New(cfg Config) *World {
	if cfg.RingMax < cfg.RingMin {
		cfg.RingMax = cfg.RingMin
	}
	if cfg.HandleMean <= 0 {
		cfg.HandleMean = 2 * time.Minute
	}
	return &World{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		live: map[string]bool{}, timers: map[*time.Timer]bool{}}
}

// Placed is how many calls have been placed.
func (w *World) Placed() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.placed
}

// Close ends every simulated call at once.
func (w *World) Close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	for t := range w.timers {
		t.Stop()
	}
	w.timers = map[*time.Timer]bool{}
	w.busy = 0
}

func (w *World) outcome(d dialler.Dial) (Outcome, time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	o := NoAnswer
	if w.cfg.Script != nil {
		o = w.cfg.Script(d)
	} else {
		r := w.rng.Float64()
		switch {
		case r < w.cfg.PAnswer:
			o = Answer
		case r < w.cfg.PAnswer+w.cfg.PBusy:
			o = Busy
		case r < w.cfg.PAnswer+w.cfg.PBusy+w.cfg.PFail:
			o = Fail
		}
	}
	ring := w.cfg.RingMin + time.Duration(w.rng.Float64()*float64(w.cfg.RingMax-w.cfg.RingMin))
	return o, ring
}

// Place implements dialler.Placer.
func (w *World) Place(ctx context.Context, d dialler.Dial) (dialler.Placed, error) {
	w.mu.Lock()
	w.placed++
	w.mu.Unlock()
	if w.cfg.Log != nil {
		fmt.Fprintf(w.cfg.Log, "placed %s %s %s\n", d.CallID, d.ContactID, d.To)
	}
	o, ring := w.outcome(d)
	wait := ring
	switch o {
	case NoAnswer:
		wait = d.RingTimeout
	case Busy, Fail:
		wait = ring / 4
	}
	start := time.Now()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return dialler.Placed{Result: dialler.Failed, Ring: time.Since(start), Reason: "cancelled: " + ctx.Err().Error()}, nil
	case <-t.C:
	}
	switch o {
	case Answer, AnswerNoWorker:
		w.mu.Lock()
		w.live[d.CallID] = true
		w.mu.Unlock()
		return dialler.Placed{Result: dialler.Answered, SIPStatus: 200, Ring: time.Since(start)}, nil
	case Busy:
		return dialler.Placed{Result: dialler.Busy, SIPStatus: 486, Ring: time.Since(start), Reason: "486 Busy Here"}, nil
	case Fail:
		return dialler.Placed{Result: dialler.Failed, SIPStatus: 503, Ring: time.Since(start), Reason: "503 Service Unavailable"}, nil
	}
	return dialler.Placed{Result: dialler.NoAnswer, SIPStatus: 480, Ring: time.Since(start), Reason: "480 Temporarily Unavailable"}, nil
}

// Hangup implements dialler.Placer.
func (w *World) Hangup(ctx context.Context, d dialler.Dial) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.live, d.CallID)
	return nil
}

// Live implements dialler.Placer: only calls placed by this world are known.
func (w *World) Live(ctx context.Context, d dialler.Dial) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.live[d.CallID], nil
}

// Attach implements dialler.Attacher: a free worker takes the call for a
// log-normal handle time.
func (w *World) Attach(ctx context.Context, d dialler.Dial) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.busy >= w.cfg.Workers || (w.cfg.Script != nil && w.cfg.Script(d) == AnswerNoWorker) {
		return "", dialler.ErrNoWorker
	}
	w.busy++
	cv := w.cfg.HandleCV
	s2 := math.Log(1 + cv*cv)
	mu := math.Log(w.cfg.HandleMean.Seconds()) - s2/2
	handle := time.Duration(math.Exp(mu+math.Sqrt(s2)*w.rng.NormFloat64()) * float64(time.Second))
	var t *time.Timer
	t = time.AfterFunc(handle, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.timers[t] {
			delete(w.timers, t)
			w.busy--
			delete(w.live, d.CallID)
		}
	})
	w.timers[t] = true
	return "http://fleet.simulated.invalid", nil
}

// Pool implements dialler.Capacity.
func (w *World) Pool(ctx context.Context, orgID string) (dialler.Pool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return dialler.Pool{Free: max(w.cfg.Workers-w.busy, 0), Busy: w.busy}, nil
}
