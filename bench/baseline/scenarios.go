package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/twilio"
)

// Attempts made to set up each call of a scenario; refused attempts are
// counted, then retried. Filling every worker takes more: with the seed's
// upstream (no zone), each nginx worker process counts max_conns alone, so
// the last free worker is found by chance.
const (
	setupAttempts = 5
	fillAttempts  = 100
)

// setUpCalls places k calls through nginx one after another, retrying a
// refused attempt up to tries times, and returns the calls set up and the
// attempts refused on the way (with how each was refused).
func setUpCalls(ctx context.Context, sys system, k, tries int) ([]*twilio.Client, map[string]int, error) {
	var calls []*twilio.Client
	refused := map[string]int{}
	for range k {
		var a attempt
		for try := range tries {
			if try > 0 {
				time.Sleep(100 * time.Millisecond)
			}
			if a = dial(ctx, sys); a.ok() {
				break
			}
			refused[a.how()]++
		}
		if !a.ok() {
			for _, c := range calls {
				c.Close()
			}
			return nil, refused, fmt.Errorf("call %d of %d not set up in %d attempts, the last one refused: %s",
				len(calls)+1, k, tries, a.how())
		}
		calls = append(calls, a.cl)
	}
	return calls, refused, nil
}

// restartResult is what a restart did to the calls in flight.
type restartResult struct {
	calls      int            // calls talking when the restart began
	refusedSet map[string]int // attempts refused while setting them up
	cut        int
	cutWhy     map[string]int
	took       time.Duration // the restart command(s), start to return
	opErr      error         // the restart command failed
	probes     int           // new calls attempted while the restart ran
	probeFail  map[string]int
	replaced   int // workers answering /health from a new pid afterwards
}

// New short calls are offered every probeEvery while a restart runs and
// for probeAfter once it has returned.
const (
	probeEvery = 200 * time.Millisecond
	probeAfter = 2 * time.Second
)

// restartUnderLoad sets up k calls that keep talking (speak, hear the
// echo), runs op, keeps them talking 5 s more and counts the calls cut.
// Meanwhile it offers new short calls and counts those refused.
func restartUnderLoad(ctx context.Context, sys system, k int, op func(context.Context) error) (restartResult, error) {
	r := restartResult{cutWhy: map[string]int{}, probeFail: map[string]int{}}
	calls, refused, err := setUpCalls(ctx, sys, k, setupAttempts)
	r.refusedSet = refused
	if err != nil {
		return r, err
	}
	talkers := make([]*talker, len(calls))
	for i, c := range calls {
		talkers[i] = talk(c)
	}
	defer func() {
		for _, t := range talkers {
			select {
			case <-t.done:
			default:
				t.end()
			}
		}
	}()
	// Every call has had one full exchange before the restart begins.
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < len(talkers); {
		n, cut := talkers[i].state()
		switch {
		case cut != nil:
			return r, fmt.Errorf("a call was cut before the restart: %w", cut)
		case n > 0:
			i++
		case time.Now().After(deadline):
			return r, fmt.Errorf("a call had no echo in 20 s before the restart")
		default:
			time.Sleep(20 * time.Millisecond)
		}
	}
	r.calls = len(talkers)

	opCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	probeCtx, stopProbes := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { r.probes, r.probeFail = probe(probeCtx, sys) })
	before := workerPIDs(ctx, sys)
	start := time.Now()
	r.opErr = op(opCtx)
	r.took = time.Since(start)
	atEnd := make([]int, len(talkers))
	for i, t := range talkers {
		atEnd[i], _ = t.state()
	}
	// Carry on talking: a call whose worker went away stops hearing echoes.
	// New calls are still offered for the first seconds of this: old
	// workers may still be on their way out.
	select {
	case <-ctx.Done():
	case <-time.After(probeAfter):
	}
	stopProbes()
	wg.Wait()
	select {
	case <-ctx.Done():
		return r, ctx.Err()
	case <-time.After(5*time.Second - probeAfter):
	}
	after := workerPIDs(ctx, sys)
	for i := range before {
		if before[i] != 0 && after[i] != 0 && before[i] != after[i] {
			r.replaced++
		}
	}
	for i, t := range talkers {
		t.end()
		n, cut := t.state()
		switch {
		case cut != nil:
			r.cut++
			r.cutWhy[cut.why]++
		case n <= atEnd[i]:
			// Alive, but not talking: as good as cut.
			r.cut++
			r.cutWhy["no exchange completed after the restart"]++
		}
	}
	return r, nil
}

// probe places short calls (greeting, then '#') until ctx ends and counts
// them and, by how, the ones refused.
func probe(ctx context.Context, sys system) (int, map[string]int) {
	n, failed := 0, map[string]int{}
	for ctx.Err() == nil {
		a := dial(context.Background(), sys)
		n++
		if a.ok() {
			hangUp(a.cl)
		} else {
			failed[a.how()]++
		}
		select {
		case <-ctx.Done():
		case <-time.After(probeEvery):
		}
	}
	return n, failed
}

// capacityResult is what happened to calls offered to a full fleet.
type capacityResult struct {
	fills      int            // times the workers were filled
	n          int            // calls held, one per worker, over all fills
	refusedSet map[string]int // attempts refused while filling the free workers
	busy       int            // workers answering "busy" on /health once full (the fewest over all fills)
	extra      int            // further calls offered
	refused    map[string]int // how the further calls were refused
	byWorker   int            // refusals made by a busy worker (429, or a close after the upgrade)
	admitted   int            // further calls that were set up: over capacity
}

// add accumulates another fill's figures; busy keeps the lowest.
func (c *capacityResult) add(o capacityResult) {
	c.fills++
	c.n += o.n
	c.busy = min(c.busy, o.busy)
	c.extra += o.extra
	c.byWorker += o.byWorker
	c.admitted += o.admitted
	for k, v := range o.refusedSet {
		c.refusedSet[k] += v
	}
	for k, v := range o.refused {
		c.refused[k] += v
	}
}

// atCapacity fills every worker with a call, checks each worker says busy,
// then offers m more calls one after another.
func atCapacity(ctx context.Context, sys system, m int) (capacityResult, error) {
	r := capacityResult{refused: map[string]int{}}
	n := len(sys.sockets())
	calls, refused, err := setUpCalls(ctx, sys, n, fillAttempts)
	r.refusedSet = refused
	if err != nil {
		return r, err
	}
	r.n = len(calls)
	keep, stopKeep := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Go(func() { keepAlive(keep, c) })
	}
	defer func() {
		stopKeep()
		wg.Wait()
		for _, c := range calls {
			hangUp(c)
		}
	}()
	for _, p := range sys.sockets() {
		if h, err := health(ctx, p, 2*time.Second); err == nil && h.State == fleetapi.WorkerBusy {
			r.busy++
		}
	}
	for range m {
		a := dial(ctx, sys)
		r.extra++
		if a.ok() {
			r.admitted++
			calls = append(calls, a.cl)
			continue
		}
		r.refused[a.how()]++
		if a.status == 429 || a.closeCode != 0 {
			r.byWorker++
		}
	}
	return r, nil
}

// keepAlive sends a frame of silence every second, as a quiet caller's
// carrier keeps sending media.
func keepAlive(ctx context.Context, c *twilio.Client) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.Done():
			return
		case <-t.C:
			if err := c.SendAudio(ctx, twilio.Silence(20*time.Millisecond), 0); err != nil {
				return
			}
		}
	}
}

// waitIdle waits until every worker answers /health with an idle state,
// so that a scenario starts on a quiet fleet.
func waitIdle(ctx context.Context, sys system, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		idle := 0
		for _, p := range sys.sockets() {
			if h, err := health(ctx, p, time.Second); err == nil && h.State == fleetapi.WorkerIdle {
				idle++
			}
		}
		if idle == len(sys.sockets()) {
			return sys.waitRouting(ctx)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d workers idle after %s", idle, len(sys.sockets()), limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// workerPIDs returns the pid answering /health on each socket, 0 where
// none answers.
func workerPIDs(ctx context.Context, sys system) []int {
	out := make([]int, len(sys.sockets()))
	for i, p := range sys.sockets() {
		if h, err := health(ctx, p, 2*time.Second); err == nil {
			out[i] = h.PID
		}
	}
	return out
}
