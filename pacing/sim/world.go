package sim

import (
	"container/heap"
	"math"
	"math/rand/v2"

	"github.com/voxplatform/vox/pacing"
)

// World is the model every strategy dials into.
type World struct {
	Workers     int
	PHuman      func(t float64) float64 // chance a dial is answered by a person, at time t
	PMachine    float64
	AnswerMin   float64 // answers come U(AnswerMin, AnswerMax) s after the dial
	AnswerMax   float64
	RingTimeout float64 // unanswered dials end after this
	HandleMean  float64 // log-normal handle time
	HandleCV    float64
	Tick        float64
	Day         float64
}

// Strategy decides the dials of each tick and hears what happened.
type Strategy interface {
	// Decide returns the dials to place at time now (seconds).
	Decide(now float64, s pacing.Snapshot) int
	// DialEnded reports how a dial ended and how long it rang.
	DialEnded(o pacing.Outcome, ring float64)
	// CallEnded reports the handle time of a call that ended.
	CallEnded(handle float64)
	// Answered reports a person who answered, and whether no worker was free.
	Answered(abandoned bool)
}

// Pruner is a Strategy that may hang up dials still ringing: Prune returns
// indices into s.Ringing, called before Decide at each tick.
type Pruner interface {
	Prune(now float64, s pacing.Snapshot) []int
	// HungUp reports a dial hung up after ring seconds.
	HungUp(ring float64)
}

// Result is what one simulated day measured.
type Result struct {
	Utilisation float64 // busy worker-seconds / (workers × day)
	Abandon     float64 // abandons / people who answered
	WorstHour   float64 // highest abandon rate of any rolling 60 minutes
	AnswersHour float64 // calls connected to a worker per hour
	Dials       int
	HungUp      int // dials hung up while ringing
}

type evKind int

const (
	evHuman evKind = iota
	evMachine
	evNoAnswer
	evHangup
)

type event struct {
	t    float64
	kind evKind
	id   int
}

type events []event

func (e events) Len() int           { return len(e) }
func (e events) Less(i, j int) bool { return e[i].t < e[j].t }
func (e events) Swap(i, j int)      { e[i], e[j] = e[j], e[i] }
func (e *events) Push(x any)        { *e = append(*e, x.(event)) }
func (e *events) Pop() any {
	old := *e
	x := old[len(old)-1]
	*e = old[:len(old)-1]
	return x
}

// Simulate runs one day of w with strategy st and the given seed; the same
// seed gives the same day.
func Simulate(w World, st Strategy, seed uint64) Result {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	mu := math.Log(w.HandleMean) - math.Log(1+w.HandleCV*w.HandleCV)/2
	sigma := math.Sqrt(math.Log(1 + w.HandleCV*w.HandleCV))

	var (
		q       events
		free    = w.Workers
		busy    = newAges() // call id → answered at
		ringing = newAges() // dial id → placed at
		nextID  int
		hungUp  = map[int]bool{}
		now     float64
		busySec float64
		res     Result
	)
	minutes := int(math.Ceil(w.Day/60)) + 1
	humans := make([]int, minutes)
	abandons := make([]int, minutes)
	connected := 0

	advance := func(t float64) {
		busySec += float64(w.Workers-free) * (t - now)
		now = t
	}
	tally := func(from, to int) pacing.Tally {
		var t pacing.Tally
		for m := max(from, 0); m <= to && m < minutes; m++ {
			t.HumanAnswers += humans[m]
			t.Abandons += abandons[m]
		}
		return t
	}

	snap := pacing.Snapshot{}
	for tick := 0.0; tick < w.Day; tick += w.Tick {
		for q.Len() > 0 && q[0].t <= tick {
			ev := heap.Pop(&q).(event)
			advance(ev.t)
			if hungUp[ev.id] && ev.kind != evHangup {
				delete(hungUp, ev.id)
				continue
			}
			switch ev.kind {
			case evHuman:
				ring := ev.t - ringing.remove(ev.id)
				st.DialEnded(pacing.Human, ring)
				m := int(ev.t / 60)
				humans[m]++
				if free > 0 {
					free--
					busy.add(ev.id, ev.t)
					connected++
					d := math.Exp(mu + sigma*rng.NormFloat64())
					heap.Push(&q, event{t: ev.t + d, kind: evHangup, id: ev.id})
					st.Answered(false)
				} else {
					abandons[m]++
					st.Answered(true)
				}
			case evMachine:
				ring := ev.t - ringing.remove(ev.id)
				st.DialEnded(pacing.Machine, ring)
			case evNoAnswer:
				ringing.remove(ev.id)
				st.DialEnded(pacing.NoAnswer, 0)
			case evHangup:
				st.CallEnded(ev.t - busy.remove(ev.id))
				free++
			}
		}
		advance(tick)

		snap.Free = free
		snap.Busy = snap.Busy[:0]
		for _, at := range busy.at {
			snap.Busy = append(snap.Busy, tick-at)
		}
		snap.Ringing = snap.Ringing[:0]
		for _, at := range ringing.at {
			snap.Ringing = append(snap.Ringing, tick-at)
		}
		m := int(tick / 60)
		snap.Hour = tally(m-59, m)
		snap.Day = tally(0, m)
		snap.Month = snap.Day
		if pr, ok := st.(Pruner); ok {
			cut := pr.Prune(tick, snap)
			ids := make([]int, 0, len(cut))
			for _, j := range cut {
				ids = append(ids, ringing.ids[j])
			}
			for _, id := range ids {
				pr.HungUp(tick - ringing.remove(id))
				hungUp[id] = true
				res.HungUp++
			}
			if len(ids) > 0 {
				snap.Ringing = snap.Ringing[:0]
				for _, at := range ringing.at {
					snap.Ringing = append(snap.Ringing, tick-at)
				}
			}
		}
		n := st.Decide(tick, snap)
		pH := w.PHuman(tick)
		for i := 0; i < n; i++ {
			id := nextID
			nextID++
			res.Dials++
			ringing.add(id, tick)
			u := rng.Float64()
			answerAt := tick + w.AnswerMin + rng.Float64()*(w.AnswerMax-w.AnswerMin)
			switch {
			case u < pH:
				heap.Push(&q, event{t: answerAt, kind: evHuman, id: id})
			case u < pH+w.PMachine:
				heap.Push(&q, event{t: answerAt, kind: evMachine, id: id})
			default:
				heap.Push(&q, event{t: tick + w.RingTimeout, kind: evNoAnswer, id: id})
			}
		}
	}
	advance(w.Day)

	all := tally(0, minutes)
	res.Utilisation = busySec / (float64(w.Workers) * w.Day)
	res.Abandon = all.Rate()
	res.AnswersHour = float64(connected) / (w.Day / 3600)
	last := int(w.Day/60) - 60
	for m := 0; m <= last; m++ {
		if r := tally(m, m+59).Rate(); r > res.WorstHour {
			res.WorstHour = r
		}
	}
	return res
}

// ages is a set of ids with a start time each, kept in a slice so that the
// simulation is the same for the same seed (a map's order is random).
type ages struct {
	ids []int
	at  []float64
	pos map[int]int
}

func newAges() *ages { return &ages{pos: map[int]int{}} }

func (a *ages) add(id int, t float64) {
	a.pos[id] = len(a.ids)
	a.ids = append(a.ids, id)
	a.at = append(a.at, t)
}

// remove drops id and returns its start time.
func (a *ages) remove(id int) float64 {
	i := a.pos[id]
	t := a.at[i]
	last := len(a.ids) - 1
	a.ids[i], a.at[i] = a.ids[last], a.at[last]
	a.pos[a.ids[i]] = i
	a.ids, a.at = a.ids[:last], a.at[:last]
	delete(a.pos, id)
	return t
}
