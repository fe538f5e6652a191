package dialler_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voxplatform/vox/dialler"
	"github.com/voxplatform/vox/dialler/leader"
	"github.com/voxplatform/vox/dialler/simulate"
	"github.com/voxplatform/vox/pacing"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/store"
)

// ringer is a world whose dials ring until the Dialler hangs them up (or
// the test ends), and whose pool of workers the test sets.
type ringer struct {
	*simulate.World // attach, hang up, live
	clock           *clock
	release         chan struct{}

	mu     sync.Mutex // guards pool, placed, hungUp
	pool   dialler.Pool
	placed map[string]time.Time     // call id → placed at (fixture clock)
	hungUp map[string]time.Duration // call id → how long it rang (fixture clock)
}

func (r *ringer) Pool(context.Context, string) (dialler.Pool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pool, nil
}

func (r *ringer) setPool(free, busy int) {
	r.mu.Lock()
	r.pool = dialler.Pool{Free: free, Busy: busy}
	r.mu.Unlock()
}

func (r *ringer) Place(ctx context.Context, d dialler.Dial) (dialler.Placed, error) {
	r.mu.Lock()
	r.placed[d.CallID] = r.clock.Now()
	r.mu.Unlock()
	select {
	case <-ctx.Done():
		r.mu.Lock()
		r.hungUp[d.CallID] = r.clock.Now().Sub(r.placed[d.CallID])
		r.mu.Unlock()
		return dialler.Placed{Result: dialler.Failed, Reason: "cancelled"}, nil
	case <-r.release:
		return dialler.Placed{Result: dialler.NoAnswer, SIPStatus: 480}, nil
	}
}

// counts returns how many dials were placed and how many hung up.
func (r *ringer) counts() (placed, hungUp int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.placed), len(r.hungUp)
}

// TestPacerHangsUpRingingDials: dials placed while workers were free, whose
// answers would find none once the workers are taken, are hung up — but
// only once they have rung the pacer's least ring (never sooner, however
// sure the abandon), and not while workers are free to take them. A hung-up
// dial is an attempt ending in no answer, with a record that says why.
func TestPacerHangsUpRingingDials(t *testing.T) {
	f := newFixture(t, nil)
	f.addContacts(t, f.campaign.ID, 40, "")
	cfg := testConfig("d1")
	cfg.Now = f.clock.Now
	cfg.RingTimeout = 40 * time.Second
	cfg.Pacing.LearnDials = 0 // dial ahead from the first tick
	minRing := time.Duration(cfg.Pacing.PruneMinRing * float64(time.Second))
	if minRing < pacing.MinRing*time.Second {
		t.Fatalf("default least ring %v is under the legal %ds", minRing, pacing.MinRing)
	}
	r := &ringer{World: world(nil, simulate.NoAnswer, 4), clock: f.clock, release: make(chan struct{}),
		placed: map[string]time.Time{}, hungUp: map[string]time.Duration{}}
	t.Cleanup(func() { close(r.release); r.Close() })
	el := leader.New(f.st, "d1", cfg.LeaderTTL, testLogger(t))
	d, err := dialler.New(cfg, f.st, el, r, r, r, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// tick ticks d and waits until the world has every dial it placed and
	// every dial it hung up has ended: the calls in flight are then
	// exactly those placed and not hung up (a dial not yet placed and one
	// hung up but not yet ended would both keep them apart).
	tick := func() {
		t.Helper()
		d.Tick(ctx)
		eventually(t, 10*time.Second, "the tick's dials placed and hang-ups ended", func() bool {
			p, h := r.counts()
			return p-h == d.Health().CallsInFlight
		})
	}

	// Four workers free: the pacer dials ahead of them.
	r.setPool(4, 0)
	tick()
	first, _ := r.counts()
	if first == 0 {
		t.Fatal("no dial placed with four workers free")
	}
	// Workers still free well past the least ring: nothing is hung up.
	f.clock.Advance(minRing + time.Second)
	tick()
	if _, h := r.counts(); h != 0 {
		t.Fatalf("%d dials hung up while workers were free for their answers", h)
	}
	placedBefore, _ := r.counts()
	if placedBefore == first {
		t.Fatal("no dial placed at the second tick: the least ring below goes untested")
	}

	// Every worker taken: the dials that have rung long enough are hung up;
	// those placed a moment ago ring on, however likely their abandon.
	r.setPool(0, 4)
	f.clock.Advance(time.Second)
	tick()
	eventually(t, 5*time.Second, "the old dials hung up", func() bool { _, h := r.counts(); return h >= first })
	r.mu.Lock()
	for id, rang := range r.hungUp {
		if rang < minRing {
			t.Errorf("call %s hung up after %v of ringing, under the least ring %v", id, rang, minRing)
		}
	}
	young := 0
	for id, at := range r.placed {
		if _, hung := r.hungUp[id]; !hung && f.clock.Now().Sub(at) < minRing {
			young++
		}
	}
	r.mu.Unlock()
	if young != placedBefore-first {
		t.Errorf("%d of the %d dials placed a second ago still ring, want all", young, placedBefore-first)
	}
	if _, h := r.counts(); h != first {
		t.Errorf("%d dials hung up, want the %d that had rung %v", h, first, minRing)
	}

	// Once they too have rung long enough, they go the same way.
	f.clock.Advance(minRing)
	tick()
	eventually(t, 5*time.Second, "every dial hung up", func() bool { p, h := r.counts(); return h == p })

	// Each is an attempt that was not answered, recorded as such.
	eventually(t, 5*time.Second, "records of the hung-up calls", func() bool {
		n := 0
		for _, c := range f.calls(t, f.campaign.ID) {
			if c.Status == runtimeapi.CallNoAnswer && strings.Contains(c.Error, "hung up while ringing") {
				n++
			}
		}
		p, _ := r.counts()
		return n == p
	})
	for _, c := range f.contacts(t, f.campaign.ID) {
		if c.LastCallID == "" {
			continue
		}
		if c.Attempts != 1 || c.LastOutcome != store.OutcomeNoAnswer || c.Status == store.ContactDialling {
			t.Errorf("contact %s: attempts %d, outcome %q, status %s; want one attempt ended in no answer",
				c.ID, c.Attempts, c.LastOutcome, c.Status)
		}
	}
}
