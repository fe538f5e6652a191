package dialler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/voxplatform/vox/dialler/compliance"
	"github.com/voxplatform/vox/dialler/fairshare"
	"github.com/voxplatform/vox/dialler/leader"
	"github.com/voxplatform/vox/pacing"
	"github.com/voxplatform/vox/store"
)

// Config tunes a Dialler.
type Config struct {
	// Owner names this process in the leader document and on leases.
	Owner string
	// Interval is the tick (LOOP_INTERVAL_SECONDS).
	Interval time.Duration
	// LeaderTTL is how long a leadership lease lasts without renewal; a
	// standby takes over at most this long after the leader dies.
	LeaderTTL time.Duration
	// RingTimeout is how long a call rings before it is given up (≥ 15 s
	// in production).
	RingTimeout time.Duration
	// AttachTimeout bounds handing an answered call to a worker.
	AttachTimeout time.Duration
	// MaxCall is the longest call placed.
	MaxCall time.Duration
	// AbandonCap is the abandon rate a campaign must stay under, per 24
	// hours and per 30 days (0.03).
	AbandonCap float64
	// DrainTimeout bounds how long a stopping Dialler waits for calls it
	// placed to be answered and attached or to end.
	DrainTimeout time.Duration
	// TallyEvery is how often the abandon tallies are re-read from the
	// call records (between reads they are counted in memory).
	TallyEvery time.Duration
	// Pacing configures each campaign's pacer; its Cap is AbandonCap.
	Pacing pacing.Config
	// Now is the clock of leases, windows and records; nil is time.Now.
	// Tests move it forward to cross retry delays and quiet periods.
	Now func() time.Time
}

// leaseFor is the lease of one attempt: ringing, attaching and a margin.
func (c Config) leaseFor() time.Duration {
	return c.RingTimeout + c.AttachTimeout + 2*c.Interval + 5*time.Second
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Owner == "" {
		errs = append(errs, errors.New("owner: required"))
	}
	if c.Interval <= 0 {
		errs = append(errs, errors.New("interval: must be > 0"))
	}
	if c.LeaderTTL < 2*c.Interval {
		errs = append(errs, fmt.Errorf("leader ttl %v: must be at least two intervals (%v)", c.LeaderTTL, 2*c.Interval))
	}
	if c.RingTimeout <= 0 || c.AttachTimeout <= 0 || c.MaxCall <= 0 || c.DrainTimeout < 0 {
		errs = append(errs, errors.New("ring, attach, max call timeouts: must be > 0"))
	}
	if c.AbandonCap <= 0 || c.AbandonCap >= 1 {
		errs = append(errs, fmt.Errorf("abandon cap %v: must be in (0, 1)", c.AbandonCap))
	}
	if err := c.Pacing.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Dialler is the engine. Build it with New and run it with Run.
type Dialler struct {
	cfg      Config
	st       *store.Store
	el       *leader.Elector
	placer   Placer
	attacher Attacher
	capacity Capacity
	logger   *slog.Logger
	m        *metrics
	now      func() time.Time

	// dialCtx outlives the tick loop: calls in flight finish after SIGTERM
	// until the drain timeout cancels it.
	dialCtx    context.Context
	dialCancel context.CancelFunc
	inflight   sync.WaitGroup

	mu       sync.Mutex // guards camps, drr, lastTick, running, calls, numbers
	camps    map[string]*campaign
	drr      map[string]*fairshare.DRR // by organisation
	lastTick time.Time
	running  int
	calls    map[string]bool // call ids in flight in this process
	// numbers holds the numbers being dialled or in a call placed by this
	// process (numberKey → call id), from before the call is placed until
	// its attempt ends: one call at a time to a number of an organisation.
	numbers map[string]string
}

// attached is when a call was handed to a worker: by the Dialler's clock
// (for handle times) and by the wall clock (compared with the time of the
// capacity reading).
type attached struct{ at, wall time.Time }

// campaign is the Dialler's memory of one campaign.
type campaign struct {
	mu      sync.Mutex // guards everything below; dial goroutines report here
	doc     store.Campaign
	pacer   *pacing.Pacer
	ringing map[string]time.Time // call id → placed at
	// hangups hangs up a ringing dial (call id → cancel of its placement,
	// given errHungUp); see Dialler.hangUp.
	hangups   map[string]context.CancelCauseFunc
	busy      map[string]attached // call id → when it was attached (trimmed to the pool's busy count)
	attaching int                 // answered calls being handed to a worker
	hour      pacing.Tally
	day       pacing.Tally
	month     pacing.Tally
	tallyAt   time.Time
	zones     []string
	zonesAt   time.Time
	emptyAt   time.Time // when no contact was eligible
	checkedAt time.Time // when completion was last checked
}

// New returns a Dialler. placer, attacher and capacity place the calls;
// el decides whether this process may dial.
func New(cfg Config, st *store.Store, el *leader.Elector, placer Placer, attacher Attacher, capacity Capacity, logger *slog.Logger) (*Dialler, error) {
	cfg.Pacing.Cap = cfg.AbandonCap
	if cfg.Pacing.Target >= cfg.Pacing.Cap {
		cfg.Pacing.Target = cfg.Pacing.Cap / 2
	}
	cfg.Pacing.Estimator.RingTimeout = cfg.RingTimeout.Seconds()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	dctx, cancel := context.WithCancel(context.Background())
	return &Dialler{
		cfg: cfg, st: st, el: el, placer: placer, attacher: attacher, capacity: capacity,
		logger: logger.With("component", "dialler"), m: newMetrics(), now: cfg.Now,
		dialCtx: dctx, dialCancel: cancel,
		camps: map[string]*campaign{}, drr: map[string]*fairshare.DRR{}, calls: map[string]bool{}, numbers: map[string]string{},
	}, nil
}

// Run ticks until ctx ends, then stops dialling, gives leadership up and
// waits up to the drain timeout for the calls it placed to be answered and
// attached (or to end) before cancelling the rest.
func (d *Dialler) Run(ctx context.Context) error {
	d.logger.Info("dialler started", "owner", d.cfg.Owner, "interval", d.cfg.Interval.String())
	t := time.NewTicker(d.cfg.Interval)
	defer t.Stop()
	for {
		d.Tick(ctx)
		select {
		case <-ctx.Done():
			return d.drain()
		case <-t.C:
		}
	}
}

// drain is the shutdown: no new dial, leadership released, calls in flight
// given DrainTimeout.
func (d *Dialler) drain() error {
	d.logger.Info("stopping: no new dials; waiting for calls in flight", "timeout", d.cfg.DrainTimeout.String())
	rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := d.el.Release(rctx); err != nil {
		d.logger.Warn("release leadership; the standby takes over when the lease expires", "err", err)
	}
	cancel()
	d.m.leader.Set(0)
	done := make(chan struct{})
	go func() { d.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d.cfg.DrainTimeout):
		d.logger.Warn("drain timeout: hanging up calls still ringing")
		d.dialCancel()
		<-done
	}
	d.dialCancel()
	d.logger.Info("dialler stopped")
	return nil
}

// Tick runs one loop iteration: renew or claim leadership, then, as
// leader, recover expired leases and dial.
func (d *Dialler) Tick(ctx context.Context) {
	start := d.now()
	st, gained, err := d.el.Tick(ctx)
	if err != nil && ctx.Err() == nil {
		d.logger.Warn("leader lease", "err", err)
	}
	d.m.epoch.Set(float64(st.Epoch))
	epoch, ok := d.el.Leading()
	if gained && ok {
		// Stamp the new epoch on every pending contact: a deposed leader's
		// lease writes on them are refused from now on.
		if n, err := d.st.FenceContacts(ctx, epoch); err != nil {
			d.logger.Warn("fence contacts", "epoch", epoch, "err", err)
			ok = false
		} else {
			d.logger.Info("fenced contacts", "epoch", epoch, "contacts", n)
		}
	}
	d.mu.Lock()
	d.lastTick = start
	d.mu.Unlock()
	if !ok {
		d.m.leader.Set(0)
		d.m.ticks.WithLabelValues("standby").Inc()
		d.mu.Lock()
		d.running = 0
		d.mu.Unlock()
		return
	}
	d.m.leader.Set(1)
	d.m.ticks.WithLabelValues("leader").Inc()
	d.recover(ctx, epoch)
	if err := d.dialAll(ctx, epoch); err != nil && ctx.Err() == nil {
		d.logger.Warn("tick", "err", err)
	}
	d.m.tickSecs.Observe(d.now().Sub(start).Seconds())
}

// dialAll paces, shares and dials every running campaign in its window.
func (d *Dialler) dialAll(ctx context.Context, epoch int64) error {
	docs, err := d.st.RunningCampaigns(ctx)
	if err != nil {
		return err
	}
	now := d.now()
	byOrg := map[string][]*campaign{}
	seen := map[string]bool{}
	d.mu.Lock()
	for _, doc := range docs {
		c := d.camps[doc.ID]
		if c == nil {
			p, err := pacing.New(d.cfg.Pacing)
			if err != nil {
				d.mu.Unlock()
				return err
			}
			c = &campaign{pacer: p, ringing: map[string]time.Time{}, hangups: map[string]context.CancelCauseFunc{},
				busy: map[string]attached{}}
			d.camps[doc.ID] = c
		}
		c.mu.Lock()
		c.doc = doc
		c.mu.Unlock()
		seen[doc.ID] = true
		byOrg[doc.OrgID] = append(byOrg[doc.OrgID], c)
	}
	for id, c := range d.camps {
		c.mu.Lock()
		idle := len(c.ringing) == 0
		c.mu.Unlock()
		if !seen[id] && idle {
			delete(d.camps, id)
		}
	}
	d.running = len(docs)
	d.mu.Unlock()

	orgs := make([]string, 0, len(byOrg))
	for o := range byOrg {
		orgs = append(orgs, o)
	}
	sort.Strings(orgs)
	for _, org := range orgs {
		if err := d.dialOrg(ctx, epoch, org, byOrg[org], now); err != nil && ctx.Err() == nil {
			d.logger.Warn("dial campaigns of organisation", "org_id", org, "err", err)
		}
	}
	return nil
}

// plan is one campaign's part of a tick.
type plan struct {
	c          *campaign
	claim      fairshare.Claim
	zones      []string
	campaignTZ bool
	snap       pacing.Snapshot
	// ringIDs holds the call id of each of snap.Ringing, in its order.
	ringIDs []string
}

// dialOrg dials the campaigns of one organisation, which share its pool of
// fleet workers.
func (d *Dialler) dialOrg(ctx context.Context, epoch int64, org string, camps []*campaign, now time.Time) error {
	pool, err := d.capacity.Pool(ctx, org)
	if err != nil {
		return fmt.Errorf("read capacity: %w", err)
	}
	// The reading may predate calls this process attached or is attaching
	// since: count them as taken, or the same free worker is offered twice.
	recent := 0
	for _, c := range camps {
		c.mu.Lock()
		recent += c.attaching
		for _, a := range c.busy {
			if pool.AsOf.IsZero() || a.wall.After(pool.AsOf) {
				recent++
			}
		}
		c.mu.Unlock()
	}
	if !pool.AsOf.IsZero() {
		pool.Free = max(pool.Free-recent, 0)
		pool.Busy += recent
	}
	d.trimBusy(camps, pool.Busy)
	var plans []*plan
	var claims []fairshare.Claim
	for _, c := range camps {
		p, err := d.planCampaign(ctx, c, pool, now)
		if err != nil {
			d.logger.Warn("plan campaign", "campaign_id", c.doc.ID, "err", err)
			continue
		}
		if p == nil {
			continue
		}
		plans = append(plans, p)
		claims = append(claims, p.claim)
	}
	d.mu.Lock()
	drr := d.drr[org]
	if drr == nil {
		drr = &fairshare.DRR{}
		d.drr[org] = drr
	}
	d.mu.Unlock()
	shares := drr.Split(pool.Free, claims)
	for _, p := range plans {
		share := shares[p.claim.ID]
		p.snap.Free = share
		p.c.mu.Lock()
		// Dials that have rung long enough and whose answer would now
		// likely find no worker are hung up first; the dials of this tick
		// are decided without them.
		hang := p.prune()
		dec := p.c.pacer.Decide(p.snap)
		p.c.mu.Unlock()
		d.hangUp(p.c, hang)
		n := fairshare.Limit(p.claim, share, len(p.snap.Ringing), dec.Dials)
		mode := dec.Mode.String()
		if !p.claim.Predictive {
			mode = pacing.OnePerFree.String()
		}
		for _, m := range []string{"predictive", "guarded", "one_per_free", "learning"} {
			v := 0.0
			if m == mode {
				v = 1
			}
			d.m.mode.WithLabelValues(p.claim.ID, m).Set(v)
		}
		placed := d.dialCampaign(ctx, epoch, p, n, now)
		ringing := len(p.snap.Ringing) + placed
		d.m.ratio.WithLabelValues(p.claim.ID).Set(float64(ringing) / float64(max(share, 1)))
		if placed > 0 || n > 0 {
			d.logger.Debug("paced", "campaign_id", p.claim.ID, "free", pool.Free, "share", share, "mode", mode,
				"wanted", n, "placed", placed, "ringing", ringing)
		}
	}
	return nil
}

// trimBusy forgets the oldest attached calls of the pool beyond the busy
// count its fleets report (those calls have ended) and teaches each
// campaign's pacer their handle time.
func (d *Dialler) trimBusy(camps []*campaign, busy int) {
	type call struct {
		c  *campaign
		id string
		at time.Time
	}
	var all []call
	for _, c := range camps {
		c.mu.Lock()
		for id, a := range c.busy {
			all = append(all, call{c, id, a.at})
		}
		c.mu.Unlock()
	}
	if len(all) <= busy {
		return
	}
	sort.Slice(all, func(i, j int) bool { return all[i].at.Before(all[j].at) })
	now := d.now()
	for _, k := range all[:len(all)-busy] {
		k.c.mu.Lock()
		delete(k.c.busy, k.id)
		k.c.pacer.Estimator().ObserveCall(now.Sub(k.at).Seconds())
		k.c.mu.Unlock()
	}
}

// planCampaign reads what pacing needs of one campaign; nil means the
// campaign does not dial this tick (outside its window, nothing left).
func (d *Dialler) planCampaign(ctx context.Context, c *campaign, pool Pool, now time.Time) (*plan, error) {
	c.mu.Lock()
	doc := c.doc
	refreshTally := now.Sub(c.tallyAt) >= d.cfg.TallyEvery
	refreshZones := now.Sub(c.zonesAt) >= 30*time.Second || c.zones == nil
	empty := !c.emptyAt.IsZero() && now.Sub(c.emptyAt) < 5*d.cfg.Interval
	checkDone := now.Sub(c.checkedAt) >= 5*d.cfg.Interval
	c.mu.Unlock()

	if refreshTally {
		if err := d.refreshTally(ctx, c, now); err != nil {
			return nil, err
		}
	}
	if refreshZones {
		zones, err := d.st.PendingZones(ctx, doc.ID)
		if err != nil {
			return nil, err
		}
		if zones == nil {
			zones = []string{}
		}
		c.mu.Lock()
		c.zones, c.zonesAt = zones, now
		c.mu.Unlock()
	}
	c.mu.Lock()
	zones := c.zones
	ringingN := len(c.ringing)
	c.mu.Unlock()
	if checkDone && ringingN == 0 {
		c.mu.Lock()
		c.checkedAt = now
		c.mu.Unlock()
		if done, err := d.completeIfDone(ctx, doc); err != nil || done {
			return nil, err
		}
	}
	open, campaignOpen := compliance.OpenZones(doc.Window, zones, now)
	want := pool.Free + pool.Busy
	if (len(open) == 0 && !campaignOpen) || empty {
		want = 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	snap := pacing.Snapshot{Hour: c.hour, Day: c.day, Month: c.month}
	var ringIDs []string
	for id, at := range c.ringing {
		snap.Ringing = append(snap.Ringing, now.Sub(at).Seconds())
		ringIDs = append(ringIDs, id)
	}
	for _, a := range c.busy {
		snap.Busy = append(snap.Busy, now.Sub(a.at).Seconds())
	}
	d.m.ringing.WithLabelValues(doc.ID).Set(float64(len(c.ringing)))
	claim := fairshare.Claim{ID: doc.ID, Weight: max(doc.Priority, 1), Want: want,
		Predictive: !compliance.OverBudget(c.day, c.month, d.cfg.AbandonCap)}
	if want == 0 {
		return &plan{c: c, claim: claim, snap: snap, ringIDs: ringIDs}, nil
	}
	return &plan{c: c, claim: claim, zones: open, campaignTZ: campaignOpen, snap: snap, ringIDs: ringIDs}, nil
}

// refreshTally re-reads a campaign's abandon tallies from its call records.
func (d *Dialler) refreshTally(ctx context.Context, c *campaign, now time.Time) error {
	c.mu.Lock()
	id := c.doc.ID
	c.mu.Unlock()
	var t [3]pacing.Tally
	for i, since := range []time.Duration{time.Hour, 24 * time.Hour, 30 * 24 * time.Hour} {
		h, a, err := d.st.AbandonTally(ctx, id, now.Add(-since))
		if err != nil {
			return err
		}
		t[i] = pacing.Tally{HumanAnswers: int(h), Abandons: int(a)}
	}
	c.mu.Lock()
	c.hour, c.day, c.month, c.tallyAt = t[0], t[1], t[2], now
	c.mu.Unlock()
	return nil
}

// completeIfDone marks a running campaign completed once every contact is
// in a final state.
func (d *Dialler) completeIfDone(ctx context.Context, doc store.Campaign) (bool, error) {
	n, err := d.st.CampaignOpenContacts(ctx, doc.ID)
	if err != nil || n > 0 {
		return false, err
	}
	if _, err := d.st.SetCampaignStatus(ctx, doc.OrgID, doc.ID, store.CampaignCompleted, store.CampaignRunning); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return true, nil
		}
		return false, err
	}
	d.logger.Info("campaign completed: every contact is in a final state", "campaign_id", doc.ID)
	return true, nil
}
