package dialler

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/voxplatform/vox/dialler/compliance"
	"github.com/voxplatform/vox/pacing"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/store"
)

// attempt places one call and sees it through: ringing, then attached to a
// worker, abandoned, or not reached; the call record and the contact follow
// each step. It runs on dialCtx, which SIGTERM does not cancel; the call is
// placed on placeCtx, which the pacer cancels (errHungUp) to hang up a dial
// still ringing.
func (d *Dialler) attempt(epoch int64, c *campaign, doc store.Campaign, dial Dial, placeCtx context.Context) {
	ctx := d.dialCtx
	defer func() {
		c.mu.Lock()
		delete(c.ringing, dial.CallID)
		delete(c.hangups, dial.CallID)
		c.mu.Unlock()
		d.mu.Lock()
		delete(d.calls, dial.CallID)
		d.mu.Unlock()
		d.releaseNumber(dial.OrgID, dial.To, dial.CallID)
	}()
	log := d.logger.With("call_id", dial.CallID, "campaign_id", dial.CampaignID, "contact_id", dial.ContactID)
	placedAt := d.now().UTC()
	d.record(ctx, dial, runtimeapi.CallRecord{Status: runtimeapi.CallRinging, StartedAt: placedAt})
	d.m.dials.WithLabelValues(dial.CampaignID).Inc()

	// Ringing ages count from here, the moment the call is placed (the
	// pacer hangs up no dial that has rung less than its PruneMinRing).
	c.mu.Lock()
	c.ringing[dial.CallID] = d.now()
	c.mu.Unlock()
	res, err := d.placer.Place(placeCtx, dial)
	if err != nil {
		res = Placed{Result: Failed, Reason: err.Error()}
	}
	ring := res.Ring
	if ring <= 0 {
		ring = d.now().Sub(placedAt)
	}
	c.mu.Lock()
	delete(c.hangups, dial.CallID)
	c.mu.Unlock()
	// Hung up by the pacer, unless the person answered first: a dial cut
	// short, not one that rang out.
	if res.Result != Answered && errors.Is(context.Cause(placeCtx), errHungUp) {
		res = Placed{Result: NoAnswer, Ring: ring, Reason: errHungUp.Error()}
		c.mu.Lock()
		c.pacer.Estimator().ObserveHungUp(ring.Seconds())
		c.mu.Unlock()
		d.m.hungUp.WithLabelValues(dial.CampaignID).Inc()
		d.m.results.WithLabelValues(dial.CampaignID, "hung_up").Inc()
		d.record(ctx, dial, runtimeapi.CallRecord{Status: runtimeapi.CallNoAnswer, EndedAt: d.now().UTC(),
			RingSeconds: seconds(ring), Error: res.Reason})
		next := compliance.AfterAttempt(doc, dial.Attempt, compliance.NotReached, d.now())
		d.endLease(ctx, store.LeaseEnd{ContactID: dial.ContactID, Attempt: dial.Attempt, Epoch: epoch,
			Status: next.Status, NextAttemptAt: next.NextAttemptAt, Outcome: store.OutcomeNoAnswer, CallID: dial.CallID})
		log.Debug("hung up while ringing", "ring", ring.String())
		return
	}
	d.m.results.WithLabelValues(dial.CampaignID, res.Result.String()).Inc()
	d.m.ring.WithLabelValues(dial.CampaignID).Observe(ring.Seconds())

	if res.Result != Answered {
		c.mu.Lock()
		c.pacer.Estimator().ObserveDial(pacing.NoAnswer, 0)
		c.mu.Unlock()
		status, outcome := runtimeapi.CallFailed, store.OutcomeFailed
		switch res.Result {
		case NoAnswer:
			status, outcome = runtimeapi.CallNoAnswer, store.OutcomeNoAnswer
		case Busy:
			status, outcome = runtimeapi.CallBusy, store.OutcomeBusy
		}
		d.record(ctx, dial, runtimeapi.CallRecord{Status: status, EndedAt: d.now().UTC(), RingSeconds: seconds(ring),
			SIPStatus: res.SIPStatus, Error: truncate(res.Reason, 1000)})
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
	c.attaching++
	c.mu.Unlock()
	actx, cancel := context.WithTimeout(ctx, d.cfg.AttachTimeout)
	fleetURL, err := d.attacher.Attach(actx, dial)
	cancel()
	c.mu.Lock()
	c.attaching--
	c.mu.Unlock()
	if err == nil {
		c.mu.Lock()
		c.busy[dial.CallID] = attached{at: d.now(), wall: time.Now()}
		c.pacer.ObserveAnswer(false)
		c.hour.HumanAnswers++
		c.day.HumanAnswers++
		c.month.HumanAnswers++
		c.mu.Unlock()
		d.m.answers.WithLabelValues(dial.CampaignID).Inc()
		d.record(ctx, dial, runtimeapi.CallRecord{Status: runtimeapi.CallInProgress, AnsweredAt: answeredAt,
			SIPStatus: 200, RingSeconds: seconds(ring), FleetURL: fleetURL})
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
	d.record(ctx, dial, runtimeapi.CallRecord{Status: runtimeapi.CallCompleted, EndCause: runtimeapi.EndAbandoned,
		AnsweredAt: answeredAt, EndedAt: d.now().UTC(), SIPStatus: 200, RingSeconds: seconds(ring),
		Error: "abandoned: " + truncate(err.Error(), 900)})
	next := compliance.AfterAttempt(doc, dial.Attempt, compliance.Abandoned, d.now())
	d.endLease(ctx, store.LeaseEnd{ContactID: dial.ContactID, Attempt: dial.Attempt, Epoch: epoch, Status: next.Status,
		NextAttemptAt: next.NextAttemptAt, LastAbandonAt: next.LastAbandonAt, Outcome: store.OutcomeAbandoned, CallID: dial.CallID})
	log.Info("abandoned: no free worker", "err", err)
}

// record writes one step of the call record of dial, in the runtime
// contract's terms (runtimeapi.CallRecord, the body the worker sends to
// PUT /runtime/calls/{id}), through the same monotonic store write the
// Backend applies to it. The fields that identify the call are set at every
// step, so that any one write creates a complete record.
func (d *Dialler) record(ctx context.Context, dial Dial, r runtimeapi.CallRecord) error {
	r.AgentID, r.CampaignID, r.ContactID = dial.AgentID, dial.CampaignID, dial.ContactID
	r.Direction, r.Carrier, r.To, r.From = runtimeapi.Outbound, runtimeapi.CarrierSIP, dial.To, dial.From
	if err := r.Validate(); err != nil {
		d.logger.Error("call record refused by its own contract", "call_id", dial.CallID, "err", err)
		return err
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := d.st.UpsertCall(wctx, store.CallUpdate{CallID: dial.CallID, OrgID: dial.OrgID, AgentID: dial.AgentID,
		Status: r.Status, Set: store.RecordSet(r)}); err != nil {
		d.logger.Warn("write call record", "call_id", dial.CallID, "status", r.Status, "err", err)
		return err
	}
	return nil
}

func seconds(d time.Duration) *float64 {
	v := d.Seconds()
	return &v
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
	Status   string `bson:"status"`
	EndCause string `bson:"end_cause"`
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
	case errors.Is(err, store.ErrNotFound):
		// No record: the attempt was leased but never placed (the record
		// is written before the call). Give the attempt back.
		end.Status, end.UndoAttempt, end.CallID, action = store.ContactPending, true, "", "unplaced"
	case rec.EndCause == runtimeapi.EndAbandoned:
		next := compliance.AfterAttempt(camp, ct.Attempts, compliance.Abandoned, now)
		end.Status, end.NextAttemptAt, end.LastAbandonAt, end.Outcome = next.Status, next.NextAttemptAt, next.LastAbandonAt, store.OutcomeAbandoned
	case rec.Status == runtimeapi.CallInProgress || rec.Status == runtimeapi.CallCompleted:
		end.Status, end.Outcome, action = store.ContactAnswered, store.OutcomeAnswered, "answered"
	case runtimeapi.Terminal(rec.Status):
		next := compliance.AfterAttempt(camp, ct.Attempts, compliance.NotReached, now)
		outcome := store.OutcomeFailed
		switch rec.Status {
		case runtimeapi.CallNoAnswer:
			outcome = store.OutcomeNoAnswer
		case runtimeapi.CallBusy:
			outcome = store.OutcomeBusy
		}
		end.Status, end.NextAttemptAt, end.Outcome = next.Status, next.NextAttemptAt, outcome
	default:
		// Queued or ringing: the Dialler that placed it died before it
		// knew how it went. Ask whether the call is up.
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
		d.record(ctx, dial, runtimeapi.CallRecord{Status: runtimeapi.CallFailed, EndedAt: now.UTC(),
			Error: "the dialler that placed the call stopped before it ended; the call is not live"})
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
