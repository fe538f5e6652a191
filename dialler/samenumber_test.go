package dialler_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/voxplatform/vox/dialler"
	"github.com/voxplatform/vox/dialler/leader"
	"github.com/voxplatform/vox/dialler/simulate"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/store"
)

// perNumber is a simulated world that also counts, per number, the calls
// ringing at once, and remembers the most ever seen.
type perNumber struct {
	*simulate.World
	mu      sync.Mutex // guards ringing, most
	ringing map[string]int
	most    int
}

func (p *perNumber) Place(ctx context.Context, d dialler.Dial) (dialler.Placed, error) {
	p.mu.Lock()
	p.ringing[d.To]++
	p.most = max(p.most, p.ringing[d.To])
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.ringing[d.To]--
		p.mu.Unlock()
	}()
	return p.World.Place(ctx, d)
}

func (p *perNumber) mostAtOnce() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.most
}

// twoCampaignsOneNumber is an organisation with two running campaigns, each
// with one contact of the same number; it returns both contacts by id
// (campaign id → contact id).
func twoCampaignsOneNumber(t *testing.T) (*fixture, map[string]string) {
	t.Helper()
	f := newFixture(t, nil) // one attempt per contact
	first := f.addContacts(t, f.campaign.ID, 1, "")[0]
	phone := f.contacts(t, f.campaign.ID)[first].Phone
	ctx := context.Background()
	second := f.campaign
	second.ID, second.Name = store.NewID(), "second"
	if err := store.Insert(ctx, f.st, store.CollCampaigns, second); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	other := store.Contact{Meta: store.Meta{ID: store.NewID(), OrgID: f.org, CreatedAt: now, UpdatedAt: now},
		CampaignID: second.ID, Phone: phone, Status: store.ContactPending}
	if err := store.Insert(ctx, f.st, store.CollContacts, other); err != nil {
		t.Fatal(err)
	}
	return f, map[string]string{f.campaign.ID: first, second.ID: other.ID}
}

// newPerNumberDialler builds a Dialler on f dialling into a perNumber world
// where every call has outcome o.
func newPerNumberDialler(t *testing.T, f *fixture, o simulate.Outcome, log *placements, tune ...func(*dialler.Config)) (*dialler.Dialler, *perNumber) {
	t.Helper()
	cfg := testConfig("d1")
	cfg.Now = f.clock.Now
	for _, fn := range tune {
		fn(&cfg)
	}
	w := &perNumber{World: world(log, o, 10), ringing: map[string]int{}}
	t.Cleanup(w.Close)
	el := leader.New(f.st, "d1", cfg.LeaderTTL, testLogger(t))
	d, err := dialler.New(cfg, f.st, el, w, w, w, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return d, w
}

// attemptsOf reads the attempt counter of each contact of twoCampaignsOneNumber.
func attemptsOf(t *testing.T, f *fixture, contacts map[string]string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for camp, id := range contacts {
		out[id] = f.contacts(t, camp)[id].Attempts
	}
	return out
}

// TestOneCallAtATimeToANumber: the same number in two running campaigns of
// an organisation is dialled once in a tick where both campaigns lease it;
// the other contact goes back to pending without using its attempt and is
// dialled a minute later, after the first call has ended.
func TestOneCallAtATimeToANumber(t *testing.T) {
	f, contacts := twoCampaignsOneNumber(t)
	log := &placements{}
	d, w := newPerNumberDialler(t, f, simulate.NoAnswer, log)

	settle(t, d)
	if got := log.contacts(); len(got) != 1 {
		t.Fatalf("first tick placed %d calls to the one number (%v), want 1", len(got), got)
	}
	held := ""
	for camp, id := range contacts {
		c := f.contacts(t, camp)[id]
		if id == log.contacts()[0] {
			continue
		}
		held = id
		if c.Status != store.ContactPending || c.Attempts != 0 || c.NextAttemptAt == nil {
			t.Fatalf("held-back contact: status %s attempts %d next %v, want pending, 0 attempts, a next attempt time",
				c.Status, c.Attempts, c.NextAttemptAt)
		}
	}
	f.clock.Advance(30 * time.Second)
	settle(t, d)
	if n := len(log.contacts()); n != 1 {
		t.Fatalf("30 s later: %d calls placed, want 1 (the held-back contact waits a minute)", n)
	}
	f.clock.Advance(31 * time.Second)
	settle(t, d)
	got := log.contacts()
	if len(got) != 2 || got[1] != held {
		t.Fatalf("a minute later: calls %v, want the held-back contact %s second", got, held)
	}
	if m := w.mostAtOnce(); m != 1 {
		t.Fatalf("%d calls to the same number at once, want 1", m)
	}
	for id, n := range attemptsOf(t, f, contacts) {
		if n != 1 {
			t.Errorf("contact %s: %d attempts, want 1 (the held-back lease is not an attempt)", id, n)
		}
	}
}

// TestNoCallToANumberInAConversation: while an answered call to a number is
// in progress with a worker, another campaign's contact with the same number
// is not dialled; once the call record says it ended, it is.
func TestNoCallToANumberInAConversation(t *testing.T) {
	f, contacts := twoCampaignsOneNumber(t)
	log := &placements{}
	d, _ := newPerNumberDialler(t, f, simulate.Answer, log, func(c *dialler.Config) { c.MaxCall = time.Hour })

	settle(t, d)
	got := log.contacts()
	if len(got) != 1 {
		t.Fatalf("first tick placed %d calls to the one number (%v), want 1", len(got), got)
	}
	f.clock.Advance(61 * time.Second)
	settle(t, d)
	if n := len(log.contacts()); n != 1 {
		t.Fatalf("during the conversation: %d calls placed, want 1", n)
	}
	// The worker ends the call: its record says so.
	callID := ""
	for camp, id := range contacts {
		if id == got[0] {
			callID = f.contacts(t, camp)[id].LastCallID
		}
	}
	if _, err := f.st.UpsertCall(context.Background(), store.CallUpdate{CallID: callID, Status: runtimeapi.CallCompleted,
		Set: store.RecordSet(runtimeapi.CallRecord{EndedAt: f.clock.Now().UTC()})}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(61 * time.Second)
	settle(t, d)
	if got := log.contacts(); len(got) != 2 || got[1] == got[0] {
		t.Fatalf("after the conversation ended: calls %v, want the other contact dialled", got)
	}
}

// TestNoCallToANumberLeftInFlight: a contact leased by an earlier leader
// (status dialling, its lease not yet expired) holds its number: another
// campaign's contact with that number is not dialled meanwhile.
func TestNoCallToANumberLeftInFlight(t *testing.T) {
	f, contacts := twoCampaignsOneNumber(t)
	ctx := context.Background()
	until := f.clock.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	if _, err := f.st.C(store.CollContacts).UpdateByID(ctx, contacts[f.campaign.ID], map[string]any{"$set": map[string]any{
		"status": store.ContactDialling, "attempts": 1, "lease_until": until, "lease_owner": "earlier"}}); err != nil {
		t.Fatal(err)
	}
	log := &placements{}
	d, _ := newPerNumberDialler(t, f, simulate.NoAnswer, log)
	for range 3 {
		settle(t, d)
	}
	if got := log.contacts(); len(got) != 0 {
		t.Fatalf("dialled %v while the number's call of an earlier leader is in flight, want nothing", got)
	}
	for id, n := range attemptsOf(t, f, contacts) {
		if id != contacts[f.campaign.ID] && n != 0 {
			t.Errorf("held-back contact: %d attempts, want 0", n)
		}
	}
}
