package dialler

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/voxplatform/vox/dialler/compliance"
	"github.com/voxplatform/vox/pacing"
	"github.com/voxplatform/vox/store"
)

// attempt places one call and sees it through: ringing, then attached to a
// worker, abandoned, or not reached; the call record and the contact follow
// each step. It runs on dialCtx, which SIGTERM does not cancel.
func (d *Dialler) attempt(epoch int64, c *campaign, doc store.Campaign, dial Dial) {
	ctx := d.dialCtx
	defer func() {
		c.mu.Lock()
		delete(c.ringing, dial.CallID)
		c.mu.Unlock()
		d.mu.Lock()
		delete(d.calls, dial.CallID)
		d.mu.Unlock()
	}()
	log := d.logger.With("call_id", dial.CallID, "campaign_id", dial.CampaignID, "contact_id", dial.ContactID)
	placedAt := d.now().UTC()
	d.record(ctx, dial, store.CallQueued, bson.M{"attempt": dial.Attempt, "dialler_epoch": epoch})
	d.record(ctx, dial, store.CallRinging, bson.M{"started_at": placedAt})
	d.m.dials.WithLabelValues(dial.CampaignID).Inc()

	res, err := d.placer.Place(ctx, dial)
	if err != nil {
		res = Placed{Result: Failed, Reason: err.Error()}
	}
	ring := res.Ring
	if ring <= 0 {
		ring = d.now().Sub(placedAt)
	}
	d.m.results.WithLabelValues(dial.CampaignID, res.Result.String()).Inc()
	d.m.ring.WithLabelValues(dial.CampaignID).Observe(ring.Seconds())

	if res.Result != Answered {
		c.mu.Lock()
		c.pacer.Estimator().ObserveDial(pacing.NoAnswer, 0)
		c.mu.Unlock()
		status, outcome := store.CallFailed, store.OutcomeFailed
		switch res.Result {
		case NoAnswer:
			status, outcome = store.CallNoAnswer, store.OutcomeNoAnswer
		case Busy:
			status, outcome = store.CallBusy, store.OutcomeBusy
		}
		set := bson.M{"outcome": outcome, "ended_at": d.now().UTC(), "ring_seconds": ring.Seconds()}
		if res.SIPStatus != 0 {
			set["sip_status"] = res.SIPStatus
		}
		if res.Reason != "" {
			set["error"] = truncate(res.Reason, 1000)
		}
		d.record(ctx, dial, status, set)
		next := compliance.AfterAttempt(doc, dial.Attempt, compliance.NotReached, d.now())
		d.endLease(ctx, store.LeaseEnd{ContactID: dial.ContactID, Attempt: dial.Attempt, Epoch: epoch,
			Status: next.Status, NextAttemptAt: next.NextAttemptAt, Outcome: outcome, CallID: dial.CallID})
		log.Debug("not reached", "result", res.Result.String(), "sip_status", res.SIPStatus)
		return
	}

	answeredAt := d.now().UTC()
	c.mu.Lock()
	c.pacer.Estimator().ObserveDial(pacing.Human, ring.Seconds())
	delete(c.ringing, dial.CallID)
	c.mu.Unlock()
	actx, cancel := context.WithTimeout(ctx, d.cfg.AttachTimeout)
	fleetURL, err := d.attacher.Attach(actx, dial)
	cancel()
	if err == nil {
		c.mu.Lock()
		c.busy[dial.CallID] = d.now()
		c.pacer.ObserveAnswer(false)
		c.hour.HumanAnswers++
		c.day.HumanAnswers++
		c.month.HumanAnswers++
		c.mu.Unlock()
		d.m.answers.WithLabelValues(dial.CampaignID).Inc()
		set := bson.M{"outcome": store.OutcomeAnswered, "answered_at": answeredAt, "sip_status": 200,
			"ring_seconds": ring.Seconds()}
		if fleetURL != "" {
			set["fleet_url"] = fleetURL
		}
		d.record(ctx, dial, store.CallInProgress, set)
		d.endLease(ctx, store.LeaseEnd{ContactID: dial.ContactID, Attempt: dial.Attempt, Epoch: epoch,
			Status: store.ContactAnswered, Outcome: store.OutcomeAnswered, CallID: dial.CallID})
		log.Debug("answered and attached", "fleet_url", fleetURL)
		return
	}

	// Abandoned: nobody to take the call. Hang up, record, keep the
	// contact quiet for 72 hours.
	if !errors.Is(err, ErrNoWorker) {
		log.Warn("attach failed; abandoning the call", "err", err)
	}
	hctx, hcancel := context.WithTimeout(context.Background(), 10*time.Second)
	if herr := d.placer.Hangup(hctx, dial); herr != nil {
		log.Warn("hang up abandoned call", "err", herr)
	}
	hcancel()
	c.mu.Lock()
	c.pacer.ObserveAnswer(true)
	for _, t := range []*pacing.Tally{&c.hour, &c.day, &c.month} {
		t.HumanAnswers++
		t.Abandons++
	}
	c.mu.Unlock()
	d.m.abandons.WithLabelValues(dial.CampaignID).Inc()
	d.record(ctx, dial, store.CallCanceled, bson.M{"outcome": store.OutcomeAbandoned, "answered_at": answeredAt,
		"ended_at": d.now().UTC(), "sip_status": 200, "ring_seconds": ring.Seconds(),
		"error": "abandoned: " + truncate(err.Error(), 900)})
	next := compliance.AfterAttempt(doc, dial.Attempt, compliance.Abandoned, d.now())
	d.endLease(ctx, store.LeaseEnd{ContactID: dial.ContactID, Attempt: dial.Attempt, Epoch: epoch, Status: next.Status,
		NextAttemptAt: next.NextAttemptAt, LastAbandonAt: next.LastAbandonAt, Outcome: store.OutcomeAbandoned, CallID: dial.CallID})
	log.Info("abandoned: no free worker", "err", err)
}

// record writes one step of the call record of dial. Its common fields are
// set at every step, so that any one write creates a complete record.
func (d *Dialler) record(ctx context.Context, dial Dial, status string, set bson.M) {
	all := bson.M{"campaign_id": dial.CampaignID, "contact_id": dial.ContactID, "direction": "outbound",
		"to": dial.To, "room": dial.Room, "participant": dial.Identity}
	if dial.From != "" {
		all["from"] = dial.From
	}
	for k, v := range set {
		all[k] = v
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := d.st.UpsertCall(wctx, store.CallUpdate{CallID: dial.CallID, OrgID: dial.OrgID, AgentID: dial.AgentID,
		Status: status, Set: all}); err != nil {
		d.logger.Warn("write call record", "call_id", dial.CallID, "status", status, "err", err)
	}
}

// endLease ends a lease, counting a refusal (a newer leader owns it).
func (d *Dialler) endLease(ctx context.Context, e store.LeaseEnd) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := d.st.EndLease(wctx, e)
	switch {
	case errors.Is(err, store.ErrConflict):
		d.m.refused.Inc()
		d.logger.Warn("lease write refused: a newer leader owns the contact", "contact_id", e.ContactID,
			"attempt", e.Attempt, "epoch", e.Epoch)
	case err != nil:
		d.logger.Warn("end lease; it expires and is recovered", "contact_id", e.ContactID, "err", err)
	}
}

// recover ends the leases that expired (their Dialler died or lost the
// lead mid-call). The attempt's call record says how far it got; one that
// never reached an end is asked of the Placer, and only an attempt that is
// not live lets its contact be dialled again.
func (d *Dialler) recover(ctx context.Context, epoch int64) {
	now := d.now()
	expired, err := d.st.ExpiredLeases(ctx, now, 100)
	if err != nil {
		d.logger.Warn("list expired leases", "err", err)
		return
	}
	for _, ct := range expired {
		callID, room, identity := Names(ct.ID, ct.Attempts)
		d.mu.Lock()
		mine := d.calls[callID]
		d.mu.Unlock()
		if mine {
			continue // still in flight here: its own goroutine ends it
		}
		camp, err := store.FindOne[store.Campaign](ctx, d.st, store.CollCampaigns, bson.M{"_id": ct.CampaignID})
		if err != nil {
			d.logger.Warn("recover lease: read campaign", "contact_id", ct.ID, "err", err)
			continue
		}
		dial := Dial{CallID: callID, Room: room, Identity: identity, OrgID: ct.OrgID, CampaignID: ct.CampaignID,
			ContactID: ct.ID, AgentID: camp.AgentID, Attempt: ct.Attempts, To: ct.Phone}
		d.recoverOne(ctx, epoch, camp, ct, dial, now)
	}
}

// recorded is what recovery reads of a call record.
type recorded struct {
	Status  string `bson:"status"`
	Outcome string `bson:"outcome"`
}

func (d *Dialler) recoverOne(ctx context.Context, epoch int64, camp store.Campaign, ct store.Contact, dial Dial, now time.Time) {
	log := d.logger.With("contact_id", ct.ID, "call_id", dial.CallID, "attempt", ct.Attempts)
	rec, err := store.FindOne[recorded](ctx, d.st, store.CollCalls, bson.M{"_id": dial.CallID})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		log.Warn("recover lease: read call record", "err", err)
		return
	}
	end := store.LeaseEnd{ContactID: ct.ID, Attempt: ct.Attempts, Epoch: epoch, CallID: dial.CallID}
	action := "ended"
	switch {
	case rec.Outcome == store.OutcomeAnswered || rec.Status == store.CallInProgress || rec.Status == store.CallCompleted:
		end.Status, end.Outcome, action = store.ContactAnswered, store.OutcomeAnswered, "answered"
	case rec.Outcome == store.OutcomeAbandoned:
		next := compliance.AfterAttempt(camp, ct.Attempts, compliance.Abandoned, now)
		end.Status, end.NextAttemptAt, end.LastAbandonAt, end.Outcome = next.Status, next.NextAttemptAt, next.LastAbandonAt, rec.Outcome
	case store.StatusRank(rec.Status) == 4:
		next := compliance.AfterAttempt(camp, ct.Attempts, compliance.NotReached, now)
		end.Status, end.NextAttemptAt, end.Outcome = next.Status, next.NextAttemptAt, rec.Outcome
	default:
		// Queued, ringing or no record: the Dialler that placed it died
		// before it knew. Ask whether the call is up.
		live, err := d.placer.Live(ctx, dial)
		if err != nil {
			log.Warn("recover lease: cannot tell whether the attempt is live; keeping it leased", "err", err)
			return
		}
		if live {
			if err := d.st.ExtendLease(ctx, ct.ID, ct.Attempts, epoch, now.Add(d.cfg.leaseFor())); err != nil {
				log.Warn("recover lease: extend", "err", err)
			}
			d.m.recovered.WithLabelValues("live").Inc()
			log.Info("expired lease of a live attempt: extended, not redialled")
			return
		}
		d.record(ctx, dial, store.CallFailed, bson.M{"outcome": store.OutcomeFailed, "ended_at": now.UTC(),
			"error": "the dialler that placed the call stopped before it ended; the call is not live"})
		next := compliance.AfterAttempt(camp, ct.Attempts, compliance.NotReached, now)
		end.Status, end.NextAttemptAt, end.Outcome, action = next.Status, next.NextAttemptAt, store.OutcomeFailed, "dead"
	}
	if err := d.st.RecoverLease(ctx, end, now); err != nil {
		if errors.Is(err, store.ErrConflict) {
			d.m.refused.Inc()
		}
		log.Warn("recover lease", "err", err)
		return
	}
	d.m.recovered.WithLabelValues(action).Inc()
	log.Info("recovered expired lease", "found", action, "status", end.Status)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
