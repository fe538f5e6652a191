package dialler

import (
	"context"
	"time"

	"github.com/voxplatform/vox/dialler/compliance"
	"github.com/voxplatform/vox/store"
)

// numberKey keys numbers: a number is one person within an organisation.
func numberKey(orgID, phone string) string { return orgID + "\x00" + phone }

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
