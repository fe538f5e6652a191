package dialler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/voxplatform/vox/dialler/compliance"
	"github.com/voxplatform/vox/dialler/fairshare"
	"github.com/voxplatform/vox/dialler/leader"
	"github.com/voxplatform/vox/pacing"
	"github.com/voxplatform/vox/runtimeapi"
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

// numberKey keys numbers: a number is one person within an organisation.
func numberKey(orgID, phone string) string { return orgID + "\x00" + phone }

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
		var hang []string
		if cut := p.c.pacer.Prune(p.snap); len(cut) > 0 {
			ringing, ids := p.snap.Ringing[:0:0], p.ringIDs[:0:0]
			for j, age := range p.snap.Ringing {
				if slices.Contains(cut, j) {
					hang = append(hang, p.ringIDs[j])
					continue
				}
				ringing, ids = append(ringing, age), append(ids, p.ringIDs[j])
			}
			p.snap.Ringing, p.ringIDs = ringing, ids
		}
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

// dialCampaign leases up to n contacts and starts their calls; it returns
// how many calls it started.
func (d *Dialler) dialCampaign(ctx context.Context, epoch int64, p *plan, n int, now time.Time) int {
	if n <= 0 || p.claim.Want == 0 {
		return 0
	}
	placed := 0
	// A lease once asked for is seen through even when the loop is told to
	// stop (its reply would otherwise be lost with the lease taken);
	// stopping is checked between leases.
	wctx := context.WithoutCancel(ctx)
	for placed < n {
		if e, ok := d.el.Leading(); !ok || e != epoch || ctx.Err() != nil {
			return placed // lost the lead or stopping: no new dial
		}
		started, more := d.leaseOne(wctx, epoch, p, now)
		if started {
			placed++
		}
		if !more {
			return placed
		}
	}
	return placed
}

// leaseOne leases one contact of the plan's campaign and starts its call.
// more is false when the campaign has nothing more to lease this tick.
func (d *Dialler) leaseOne(ctx context.Context, epoch int64, p *plan, now time.Time) (started, more bool) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	doc := p.c.doc
	ct, err := d.st.LeaseContact(ctx, store.LeaseQuery{
		CampaignID: doc.ID, Epoch: epoch, Owner: d.cfg.Owner, Now: now, For: d.cfg.leaseFor(),
		MaxAttempts: doc.MaxAttempts, AbandonQuiet: compliance.AbandonQuiet,
		Zones: p.zones, CampaignZoneOpen: p.campaignTZ,
	})
	if errors.Is(err, store.ErrNotFound) {
		p.c.mu.Lock()
		p.c.emptyAt = now
		p.c.mu.Unlock()
		return false, false
	}
	if err != nil {
		d.logger.Warn("lease contact", "campaign_id", doc.ID, "err", err)
		return false, false
	}
	return d.start(ctx, epoch, p.c, doc, ct), true
}

// start checks the leased contact once more against the rules that must
// hold at dial time (calling window, do-not-call list, the number's quiet
// period after an abandon in any campaign of the organisation, no other call
// in flight to the number in the organisation) and starts its call; false
// means the lease was ended without a call.
func (d *Dialler) start(ctx context.Context, epoch int64, c *campaign, doc store.Campaign, ct store.Contact) bool {
	callID, room, identity := Names(ct.ID, ct.Attempts)
	dial := Dial{CallID: callID, Room: room, Identity: identity, OrgID: doc.OrgID, CampaignID: doc.ID,
		ContactID: ct.ID, AgentID: doc.AgentID, Attempt: ct.Attempts, To: ct.Phone, From: doc.CallerID,
		TrunkID: doc.TrunkID, RingTimeout: d.cfg.RingTimeout, MaxCall: d.cfg.MaxCall}
	now := d.now()
	if !compliance.InWindow(doc.Window, ct.Timezone, now) {
		// Not an attempt: give it back as it was.
		d.endLease(ctx, store.LeaseEnd{ContactID: ct.ID, Attempt: ct.Attempts, Epoch: epoch, Status: store.ContactPending,
			UndoAttempt: true})
		return false
	}
	dnc, err := d.st.DNCSet(ctx, doc.OrgID, []string{ct.Phone})
	if err != nil {
		d.logger.Warn("do-not-call check failed; not dialling", "contact_id", ct.ID, "err", err)
		d.endLease(ctx, store.LeaseEnd{ContactID: ct.ID, Attempt: ct.Attempts, Epoch: epoch, Status: store.ContactPending,
			UndoAttempt: true})
		return false
	}
	if dnc[ct.Phone] {
		d.logger.Info("contact on the do-not-call list at dial time: not dialled", "contact_id", ct.ID, "campaign_id", doc.ID)
		d.endLease(ctx, store.LeaseEnd{ContactID: ct.ID, Attempt: ct.Attempts, Epoch: epoch, Status: store.ContactDoNotCall,
			Outcome: "do_not_call"})
		return false
	}
	// The quiet period after an abandon holds for the number in every
	// campaign of the organisation, not only for this contact.
	last, err := d.st.LastAbandonOfNumber(ctx, doc.OrgID, ct.Phone, ct.ID, now.Add(-compliance.AbandonQuiet))
	if err != nil || last != nil {
		end := store.LeaseEnd{ContactID: ct.ID, Attempt: ct.Attempts, Epoch: epoch, Status: store.ContactPending,
			UndoAttempt: true}
		if err != nil {
			d.logger.Warn("abandon check failed; not dialling", "contact_id", ct.ID, "err", err)
		} else {
			next := last.Add(compliance.AbandonQuiet)
			end.NextAttemptAt = &next
			d.logger.Info("number abandoned in another campaign within 72 h: not dialled", "contact_id", ct.ID,
				"campaign_id", doc.ID, "next_attempt_at", next)
		}
		d.endLease(ctx, end)
		return false
	}
	// One call at a time to a number of the organisation: the same person
	// may be a contact of several campaigns.
	if !d.holdNumber(ctx, epoch, doc, ct, callID, now) {
		return false
	}
	// The queued record comes first: an attempt without a record was never
	// placed, which is what recovery relies on.
	if err := d.record(ctx, dial, runtimeapi.CallRecord{Status: runtimeapi.CallQueued}); err != nil {
		d.logger.Warn("call record not written; not dialling", "contact_id", ct.ID, "err", err)
		d.releaseNumber(doc.OrgID, ct.Phone, callID)
		d.endLease(ctx, store.LeaseEnd{ContactID: ct.ID, Attempt: ct.Attempts, Epoch: epoch, Status: store.ContactPending,
			UndoAttempt: true})
		return false
	}
	placeCtx, hang := context.WithCancelCause(d.dialCtx)
	c.mu.Lock()
	c.ringing[callID] = now
	c.hangups[callID] = hang
	c.mu.Unlock()
	d.mu.Lock()
	d.calls[callID] = true
	d.mu.Unlock()
	d.inflight.Add(1)
	go func() {
		defer d.inflight.Done()
		defer hang(nil)
		d.attempt(epoch, c, doc, dial, placeCtx)
	}()
	return true
}

// holdNumber reserves ct's number for the call callID, unless the number has
// a call in flight in the organisation: one placed by this process (the
// leader is the only dialler) or, in the store, a contact of the
// organisation with that number being dialled (left in flight by an earlier
// leader, or leased by another campaign) or a call to it answered and still
// in progress. A refused contact goes back to pending without using an
// attempt and waits compliance.NumberBusyWait; false means its lease was
// ended so.
func (d *Dialler) holdNumber(ctx context.Context, epoch int64, doc store.Campaign, ct store.Contact, callID string, now time.Time) bool {
	key := numberKey(doc.OrgID, ct.Phone)
	d.mu.Lock()
	holder, held := d.numbers[key]
	if !held {
		d.numbers[key] = callID
	}
	d.mu.Unlock()
	reason, err := "call "+holder+" placed", error(nil)
	if !held {
		reason, err = d.st.NumberInCall(ctx, doc.OrgID, ct.Phone, ct.ID, now.Add(-d.cfg.MaxCall))
		if err == nil && reason == "" {
			return true
		}
		d.releaseNumber(doc.OrgID, ct.Phone, callID)
	}
	end := store.LeaseEnd{ContactID: ct.ID, Attempt: ct.Attempts, Epoch: epoch, Status: store.ContactPending,
		UndoAttempt: true}
	if err != nil {
		d.logger.Warn("check of calls in flight to the number failed; not dialling", "contact_id", ct.ID, "err", err)
	} else {
		next := now.Add(compliance.NumberBusyWait)
		end.NextAttemptAt = &next
		d.m.numberBusy.Inc()
		d.logger.Info("number has a call in flight in the organisation: not dialled", "contact_id", ct.ID,
			"campaign_id", doc.ID, "held_by", reason, "next_attempt_at", next)
	}
	d.endLease(ctx, end)
	return false
}

// releaseNumber frees a number held for callID.
func (d *Dialler) releaseNumber(orgID, phone, callID string) {
	key := numberKey(orgID, phone)
	d.mu.Lock()
	if d.numbers[key] == callID {
		delete(d.numbers, key)
	}
	d.mu.Unlock()
}

// errHungUp is the cause given to a ringing dial's placement when the
// pacer hangs it up.
var errHungUp = errors.New("hung up while ringing: the pacer expected no free worker for its answer")

// hangUp hangs up the ringing dials of c named by ids (see
// pacing.Pacer.Prune): each one's placement is cancelled, which ends the
// call before it is answered.
func (d *Dialler) hangUp(c *campaign, ids []string) {
	for _, id := range ids {
		c.mu.Lock()
		hang := c.hangups[id]
		c.mu.Unlock()
		if hang != nil {
			hang(errHungUp)
		}
	}
}
