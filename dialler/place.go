package dialler

import (
	"context"
	"errors"
	"time"

	"github.com/voxplatform/vox/dialler/compliance"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/store"
)

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
