package dialler_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/voxplatform/vox/dialler"
	"github.com/voxplatform/vox/dialler/leader"
	"github.com/voxplatform/vox/dialler/simulate"
	"github.com/voxplatform/vox/store"
)

// livePlacer is the simulated world with the calls of a dead Dialler that
// are still up.
type livePlacer struct {
	*simulate.World
	live map[string]bool
}

func (p livePlacer) Live(ctx context.Context, d dialler.Dial) (bool, error) {
	return p.live[d.CallID], nil
}

// TestExpiredLeaseRecovery: the leases of a Dialler that died mid-call are
// recovered by what their attempt reached; an attempt that is live or was
// answered is never dialled again.
func TestExpiredLeaseRecovery(t *testing.T) {
	f := newFixture(t, func(c *store.Campaign) { c.MaxAttempts = 3 })
	ids := f.addContacts(t, f.campaign.ID, 4, "")
	ctx := context.Background()
	expired := f.clock.Now().Add(-time.Minute)
	// Every contact leased by a dead leader of epoch 1 for its first attempt.
	for _, id := range ids {
		if _, err := f.st.C(store.CollContacts).UpdateOne(ctx, bson.M{"_id": id}, bson.M{"$set": bson.M{
			"status": store.ContactDialling, "attempts": 1, "lease_until": expired, "lease_epoch": 1, "lease_owner": "dead"}}); err != nil {
			t.Fatal(err)
		}
	}
	rec := func(i int, status string, set bson.M) {
		callID, _, _ := dialler.Names(ids[i], 1)
		if _, err := f.st.UpsertCall(ctx, store.CallUpdate{CallID: callID, OrgID: f.org, AgentID: f.agent, Status: status, Set: set}); err != nil {
			t.Fatal(err)
		}
	}
	rec(0, store.CallInProgress, bson.M{"outcome": store.OutcomeAnswered}) // answered and attached
	rec(1, store.CallRinging, nil)                                         // ringing, still up
	rec(2, store.CallRinging, nil)                                         // ringing, gone
	// ids[3]: leased, no record at all: never placed.
	live, _, _ := dialler.Names(ids[1], 1)
	log := &placements{}
	w := world(log, simulate.NoAnswer, 10)
	t.Cleanup(w.Close)
	cfg := testConfig("d2")
	cfg.Now = f.clock.Now
	p := livePlacer{World: w, live: map[string]bool{live: true}}
	d, err := dialler.New(cfg, f.st, leader.New(f.st, "d2", cfg.LeaderTTL, testLogger(t)), p, w, w, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	settle(t, d)

	cs := f.contacts(t, f.campaign.ID)
	if c := cs[ids[0]]; c.Status != store.ContactAnswered {
		t.Errorf("answered attempt: contact %s, want answered", c.Status)
	}
	if c := cs[ids[1]]; c.Status != store.ContactDialling || c.Attempts != 1 || !c.LeaseUntil.After(f.clock.Now()) {
		t.Errorf("live attempt: contact %s attempts %d lease %v, want its lease extended", c.Status, c.Attempts, c.LeaseUntil)
	}
	if c := cs[ids[2]]; c.Status != store.ContactPending || c.Attempts != 1 || c.NextAttemptAt == nil {
		t.Errorf("dead attempt: contact %s attempts %d next %v, want pending for a retry after the delay", c.Status, c.Attempts, c.NextAttemptAt)
	}
	callID, _, _ := dialler.Names(ids[2], 1)
	if r, err := store.FindOne[callDoc](ctx, f.st, store.CollCalls, bson.M{"_id": callID}); err != nil || r.Status != store.CallFailed {
		t.Errorf("dead attempt: record %+v %v, want failed", r, err)
	}
	// The attempt never placed was given back and placed now, as attempt 1.
	if got := log.contacts(); len(got) != 1 || got[0] != ids[3] {
		t.Fatalf("recovery dialled %v, want only the contact whose attempt was never placed", got)
	}
	if c := cs[ids[3]]; c.Attempts != 1 {
		t.Errorf("unplaced attempt: contact attempts %d, want 1 (given back, then placed)", c.Attempts)
	}
}
