package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/voxplatform/vox/runtimeapi"
)

// TestDiallerStore covers the leader document, fencing and the lease
// filter against the MongoDB-wire server.
func TestDiallerStore(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)

	t.Run("indexes the dialler waits for exist", func(t *testing.T) {
		missing, err := s.MissingIndexes(ctx)
		if err != nil || len(missing) != 0 {
			t.Fatalf("missing %v, %v", missing, err)
		}
	})

	t.Run("leader: claim, refuse, renew, take over with a new epoch", func(t *testing.T) {
		l, ok, err := s.ClaimLeader(ctx, "a", 0, now, 5*time.Second)
		if err != nil || !ok || l.Epoch != 1 || l.Owner != "a" {
			t.Fatalf("first claim: %+v %v %v", l, ok, err)
		}
		if l, ok, err := s.ClaimLeader(ctx, "b", 0, now.Add(time.Second), 5*time.Second); err != nil || ok || l.Owner != "a" {
			t.Fatalf("second claimant while the lease runs: %+v %v %v", l, ok, err)
		}
		if _, ok, err := s.ClaimLeader(ctx, "a", 1, now.Add(4*time.Second), 5*time.Second); err != nil || !ok {
			t.Fatalf("renew: %v %v", ok, err)
		}
		if _, ok, _ := s.ClaimLeader(ctx, "b", 0, now.Add(8*time.Second), 5*time.Second); ok {
			t.Fatal("taken over before the renewed lease expired")
		}
		l, ok, err = s.ClaimLeader(ctx, "b", 0, now.Add(10*time.Second), 5*time.Second)
		if err != nil || !ok || l.Epoch != 2 || l.Owner != "b" {
			t.Fatalf("takeover after expiry: %+v %v %v", l, ok, err)
		}
		if _, ok, _ := s.ClaimLeader(ctx, "a", 1, now.Add(10*time.Second), 5*time.Second); ok {
			t.Fatal("the deposed leader renewed its stale epoch")
		}
		if err := s.ReleaseLeader(ctx, "b", 2); err != nil {
			t.Fatal(err)
		}
		if l, ok, _ := s.ClaimLeader(ctx, "a", 0, time.Now(), 5*time.Second); !ok || l.Epoch != 3 {
			t.Fatalf("claim after release: %+v %v", l, ok)
		}
	})

	camp := NewID()
	mk := func(id string, c Contact) {
		c.Meta = Meta{ID: id, OrgID: "org", CreatedAt: now, UpdatedAt: now}
		c.CampaignID, c.Status = camp, ContactPending
		if c.Phone == "" {
			c.Phone = "+4470000" + id[len(id)-5:]
		}
		if err := Insert(ctx, s, CollContacts, c); err != nil {
			t.Fatal(err)
		}
	}
	q := LeaseQuery{CampaignID: camp, Epoch: 5, Owner: "a", Now: now, For: time.Minute, MaxAttempts: 3,
		AbandonQuiet: 72 * time.Hour, CampaignZoneOpen: true}
	lease := func(q LeaseQuery) (Contact, error) { return s.LeaseContact(ctx, q) }

	t.Run("lease filter honours every condition", func(t *testing.T) {
		later, past := now.Add(time.Hour), now.Add(-time.Hour)
		abandoned := now.Add(-71 * time.Hour)
		mk(NewID(), Contact{Attempts: 3})                                     // max attempts
		mk(NewID(), Contact{DialState: DialState{NextAttemptAt: &later}})     // retry delay
		mk(NewID(), Contact{DialState: DialState{LastAbandonAt: &abandoned}}) // 72 h
		mk(NewID(), Contact{Timezone: "Asia/Tokyo"})                          // zone closed
		mk(NewID(), Contact{DialState: DialState{LeaseEpoch: 6}})             // fenced by a newer leader
		if c, err := lease(q); !errors.Is(err, ErrNotFound) {
			t.Fatalf("leased %+v (%v); every contact is ineligible", c, err)
		}
		ok := NewID()
		mk(ok, Contact{Attempts: 1, DialState: DialState{NextAttemptAt: &past}})
		c, err := lease(q)
		if err != nil || c.ID != ok || c.Status != ContactDialling || c.Attempts != 2 || c.LeaseEpoch != 5 || c.LeaseUntil == nil {
			t.Fatalf("lease: %+v %v", c, err)
		}
		if _, err := lease(q); !errors.Is(err, ErrNotFound) {
			t.Fatalf("the same contact leased twice: %v", err)
		}
		// The lease ends only for its own attempt and epoch.
		if err := s.EndLease(ctx, LeaseEnd{ContactID: ok, Attempt: 1, Epoch: 5, Status: ContactPending}); !errors.Is(err, ErrConflict) {
			t.Fatalf("end lease of another attempt: %v", err)
		}
		if err := s.EndLease(ctx, LeaseEnd{ContactID: ok, Attempt: 2, Epoch: 5, Status: ContactExhausted}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("fencing: a deposed leader leases nothing", func(t *testing.T) {
		camp = NewID() // a campaign of its own
		q.CampaignID = camp
		id := NewID()
		mk(id, Contact{})
		if _, err := s.FenceContacts(ctx, 7); err != nil {
			t.Fatal(err)
		}
		stale := q
		stale.Epoch = 6
		if c, err := lease(stale); !errors.Is(err, ErrNotFound) {
			t.Fatalf("epoch 6 leased %s after epoch 7 fenced it (%v)", c.ID, err)
		}
		cur := q
		cur.Epoch = 7
		c, err := lease(cur)
		if err != nil || c.ID != id {
			t.Fatalf("epoch 7 lease: %+v %v", c, err)
		}
		// A newer leader recovers the lease once it expired; the old
		// epoch's late write is then refused.
		if err := s.RecoverLease(ctx, LeaseEnd{ContactID: id, Attempt: 1, Epoch: 8, Status: ContactPending}, now.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.EndLease(ctx, LeaseEnd{ContactID: id, Attempt: 1, Epoch: 7, Status: ContactAnswered}); !errors.Is(err, ErrConflict) {
			t.Fatalf("stale epoch ended a recovered lease: %v", err)
		}
	})

	t.Run("a number's call in flight: a contact dialling or an answered call in progress", func(t *testing.T) {
		phone, a, b := "+447000099999", NewID(), NewID()
		for _, id := range []string{a, b} {
			c := Contact{Meta: Meta{ID: id, OrgID: "org", CreatedAt: now, UpdatedAt: now}, CampaignID: NewID(),
				Phone: phone, Status: ContactPending}
			if err := Insert(ctx, s, CollContacts, c); err != nil {
				t.Fatal(err)
			}
		}
		inCall := func(except string) string {
			t.Helper()
			r, err := s.NumberInCall(ctx, "org", phone, except, now.Add(-time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		if r := inCall(b); r != "" {
			t.Fatalf("nothing in flight: %q", r)
		}
		if _, err := s.C(CollContacts).UpdateByID(ctx, a, map[string]any{"$set": map[string]any{"status": ContactDialling}}); err != nil {
			t.Fatal(err)
		}
		if r := inCall(b); r == "" {
			t.Fatal("another contact of the number dialling: not seen")
		}
		if r := inCall(a); r != "" {
			t.Fatalf("the contact's own lease counted: %q", r)
		}
		if r, err := s.NumberInCall(ctx, "other-org", phone, b, now.Add(-time.Hour)); err != nil || r != "" {
			t.Fatalf("another organisation's contact counted: %q %v", r, err)
		}
		if _, err := s.C(CollContacts).UpdateByID(ctx, a, map[string]any{"$set": map[string]any{"status": ContactAnswered}}); err != nil {
			t.Fatal(err)
		}
		call := func(id string, answered time.Time, status string) {
			t.Helper()
			if _, err := s.UpsertCall(ctx, CallUpdate{CallID: id, OrgID: "org", AgentID: "agent", Status: status,
				Set: RecordSet(runtimeapi.CallRecord{To: phone, AnsweredAt: answered})}); err != nil {
				t.Fatal(err)
			}
		}
		call("old-"+NewID(), now.Add(-2*time.Hour), runtimeapi.CallInProgress) // older than the longest call
		if r := inCall(b); r != "" {
			t.Fatalf("a call in progress for longer than a call lasts counted: %q", r)
		}
		id := "live-" + NewID()
		call(id, now.Add(-time.Minute), runtimeapi.CallInProgress)
		if r := inCall(b); r == "" {
			t.Fatal("an answered call in progress to the number: not seen")
		}
		call(id, now.Add(-time.Minute), runtimeapi.CallCompleted)
		if r := inCall(b); r != "" {
			t.Fatalf("a completed call counted: %q", r)
		}
	})
}
