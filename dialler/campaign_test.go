package dialler_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/voxplatform/vox/dialler"
	"github.com/voxplatform/vox/dialler/simulate"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/store"
)

// callDoc is a call record.
type callDoc = store.Call

func (f *fixture) calls(t *testing.T, campaignID string) []callDoc {
	t.Helper()
	cur, err := f.st.C(store.CollCalls).Find(context.Background(), bson.M{"campaign_id": campaignID})
	if err != nil {
		t.Fatal(err)
	}
	var out []callDoc
	if err := cur.All(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// indexOf is the contact index encoded in the last four digits of a number.
func indexOf(phone string) int {
	i, _ := strconv.Atoi(phone[len(phone)-4:])
	return i
}

// TestCampaignRunsToTheEnd: 20 contacts with answers, no-answers, busy
// lines, a failure and an abandon; every contact ends in a final state,
// every call has a record with its outcome and SIP status, and the campaign
// completes.
func TestCampaignRunsToTheEnd(t *testing.T) {
	f := newFixture(t, nil)
	ids := f.addContacts(t, f.campaign.ID, 20, "")
	script := func(d dialler.Dial) simulate.Outcome {
		switch i := indexOf(d.To); {
		case i >= 10 && i < 14:
			return simulate.NoAnswer
		case i >= 14 && i < 17:
			return simulate.Busy
		case i == 17:
			return simulate.Fail
		case i == 18:
			return simulate.AnswerNoWorker
		}
		return simulate.Answer
	}
	world := simulate.New(simulate.Config{Workers: 3, RingMin: 20 * time.Millisecond, RingMax: 80 * time.Millisecond,
		HandleMean: 150 * time.Millisecond, HandleCV: 0.5, Script: script})
	d := f.newDialler(t, "d1", world)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	eventually(t, 60*time.Second, "the campaign to complete", func() bool {
		c, err := store.Get[store.Campaign](context.Background(), f.st, store.CollCampaigns, f.org, f.campaign.ID)
		return err == nil && c.Status == store.CampaignCompleted
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	type expect struct {
		status, outcome, call, cause string
		sip                          int
	}
	want := map[int]expect{}
	for i := range 20 {
		w := expect{store.ContactAnswered, store.OutcomeAnswered, store.CallInProgress, "", 200}
		switch {
		case i >= 10 && i < 14:
			w = expect{store.ContactExhausted, store.OutcomeNoAnswer, store.CallNoAnswer, "", 480}
		case i >= 14 && i < 17:
			w = expect{store.ContactExhausted, store.OutcomeBusy, store.CallBusy, "", 486}
		case i == 17:
			w = expect{store.ContactExhausted, store.OutcomeFailed, store.CallFailed, "", 503}
		case i == 18:
			w = expect{store.ContactExhausted, store.OutcomeAbandoned, store.CallCompleted, runtimeapi.EndAbandoned, 200}
		}
		want[i] = w
	}
	contacts := f.contacts(t, f.campaign.ID)
	byContact := map[string][]callDoc{}
	for _, c := range f.calls(t, f.campaign.ID) {
		byContact[c.ContactID] = append(byContact[c.ContactID], c)
	}
	for _, id := range ids {
		c := contacts[id]
		w := want[indexOf(c.Phone)]
		if !store.ContactFinal(c.Status) || c.Status != w.status || c.Attempts != 1 || c.LastOutcome != w.outcome {
			t.Errorf("contact %d: status %s attempts %d outcome %s, want %s after 1 attempt with %s",
				indexOf(c.Phone), c.Status, c.Attempts, c.LastOutcome, w.status, w.outcome)
		}
		recs := byContact[id]
		if len(recs) != 1 {
			t.Errorf("contact %d: %d call records, want 1", indexOf(c.Phone), len(recs))
			continue
		}
		r := recs[0]
		callID, _, _ := dialler.Names(id, 1)
		if r.CallID != callID || r.Status != w.call || r.EndCause != w.cause || r.SIPStatus != w.sip ||
			r.To != c.Phone || r.Direction != runtimeapi.Outbound || r.AgentID != f.agent || r.OrgID != f.org ||
			r.StartedAt.IsZero() || r.RingSeconds == nil || (w.outcome == store.OutcomeAnswered || w.outcome == store.OutcomeAbandoned) == r.AnsweredAt.IsZero() {
			t.Errorf("contact %d: record %+v, want %s status %s end cause %q sip %d", indexOf(c.Phone), r, callID, w.call, w.cause, w.sip)
		}
		if w.outcome == store.OutcomeAbandoned && c.LastAbandonAt == nil {
			t.Errorf("contact %d: abandoned without last_abandon_at", indexOf(c.Phone))
		}
	}
	if n := world.Placed(); n != 20 {
		t.Errorf("placed %d calls, want 20", n)
	}
}
