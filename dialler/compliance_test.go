package dialler_test

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voxplatform/vox/dialler"
	"github.com/voxplatform/vox/dialler/simulate"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/store"
)

// placements records the contacts a world dialled, in order.
type placements struct {
	mu  sync.Mutex // guards buf
	buf strings.Builder
}

func (p *placements) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.Write(b)
}

// contacts lists the contact id of every placement.
func (p *placements) contacts() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(p.buf.String()), "\n") {
		if f := strings.Fields(line); len(f) == 4 {
			out = append(out, f[2])
		}
	}
	return out
}

// settle ticks d once and waits until the calls it placed have ended or
// been attached.
func settle(t *testing.T, d *dialler.Dialler) {
	t.Helper()
	d.Tick(context.Background())
	eventually(t, 20*time.Second, "calls in flight to end", func() bool { return d.Health().CallsInFlight == 0 })
}

func world(log *placements, o simulate.Outcome, workers int) *simulate.World {
	return simulate.New(simulate.Config{Workers: workers, RingMin: 5 * time.Millisecond, RingMax: 20 * time.Millisecond,
		HandleMean: time.Hour, HandleCV: 0.1, Log: log, Script: func(dialler.Dial) simulate.Outcome { return o }})
}

// TestCallingWindowByTimeZone: at 12:00 UTC on a Wednesday, with a window
// of 09:00–17:00 in the campaign's zone (UTC), a contact without a zone and
// one in Berlin (14:00) are dialled; one in Tokyo (21:00) and one in New
// York (08:00) are not; a campaign whose window opens at 13:00 dials nobody.
func TestCallingWindowByTimeZone(t *testing.T) {
	f := newFixture(t, nil)
	open := append(f.addContacts(t, f.campaign.ID, 1, ""), f.addContacts(t, f.campaign.ID, 1, "Europe/Berlin")...)
	closed := append(f.addContacts(t, f.campaign.ID, 1, "Asia/Tokyo"), f.addContacts(t, f.campaign.ID, 1, "America/New_York")...)
	log := &placements{}
	d := f.newDialler(t, "d1", world(log, simulate.Answer, 10))
	for range 3 {
		settle(t, d)
	}
	got := log.contacts()
	sort.Strings(got)
	want := append([]string(nil), open...)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("dialled %v, want only the contacts inside the window %v (not %v)", got, want, closed)
	}
	for _, id := range closed {
		if c := f.contacts(t, f.campaign.ID)[id]; c.Status != store.ContactPending || c.Attempts != 0 {
			t.Errorf("contact outside its window: status %s attempts %d, want pending with 0", c.Status, c.Attempts)
		}
	}

	late := newFixture(t, func(c *store.Campaign) { c.Window.Start = "13:00" })
	late.addContacts(t, late.campaign.ID, 3, "")
	log2 := &placements{}
	d2 := late.newDialler(t, "d2", world(log2, simulate.Answer, 10))
	for range 3 {
		settle(t, d2)
	}
	if n := len(log2.contacts()); n != 0 {
		t.Fatalf("campaign before its window opened dialled %d contacts", n)
	}
}

// TestDoNotCallAtDialTime: a number put on the do-not-call list after its
// contact was uploaded (and not marked) is refused when it is leased.
func TestDoNotCallAtDialTime(t *testing.T) {
	f := newFixture(t, nil)
	ids := f.addContacts(t, f.campaign.ID, 3, "")
	listed := f.contacts(t, f.campaign.ID)[ids[1]].Phone
	now := time.Now().UTC()
	if err := store.Insert(context.Background(), f.st, store.CollDNC, store.DNCEntry{
		Meta: store.Meta{ID: store.NewID(), OrgID: f.org, CreatedAt: now, UpdatedAt: now}, Phone: listed}); err != nil {
		t.Fatal(err)
	}
	log := &placements{}
	d := f.newDialler(t, "d1", world(log, simulate.Answer, 10))
	for range 3 {
		settle(t, d)
	}
	for _, id := range log.contacts() {
		if id == ids[1] {
			t.Fatal("a number on the do-not-call list was dialled")
		}
	}
	if n := len(log.contacts()); n != 2 {
		t.Errorf("dialled %d contacts, want the 2 not listed", n)
	}
	if c := f.contacts(t, f.campaign.ID)[ids[1]]; c.Status != store.ContactDoNotCall {
		t.Errorf("listed contact status %s, want %s", c.Status, store.ContactDoNotCall)
	}
}

// TestRetryDelayAndMaxAttempts: a contact that does not answer is tried
// again only after the retry delay, and never more than max_attempts times.
func TestRetryDelayAndMaxAttempts(t *testing.T) {
	f := newFixture(t, func(c *store.Campaign) { c.MaxAttempts, c.RetryDelaySeconds = 3, 3600 })
	ids := f.addContacts(t, f.campaign.ID, 1, "")
	log := &placements{}
	d := f.newDialler(t, "d1", world(log, simulate.NoAnswer, 10))
	steps := []struct {
		advance time.Duration
		placed  int
	}{
		{0, 1},                // first attempt
		{0, 1},                // at once: no retry
		{59 * time.Minute, 1}, // inside the retry delay
		{2 * time.Minute, 2},  // after it
		{61 * time.Minute, 3}, // third attempt
		{61 * time.Minute, 3}, // max attempts reached
		{48 * time.Hour, 3},
	}
	for i, s := range steps {
		f.clock.Advance(s.advance)
		settle(t, d)
		if n := len(log.contacts()); n != s.placed {
			t.Fatalf("step %d: %d attempts placed, want %d", i, n, s.placed)
		}
	}
	c := f.contacts(t, f.campaign.ID)[ids[0]]
	if c.Status != store.ContactExhausted || c.Attempts != 3 {
		t.Fatalf("contact: status %s attempts %d, want exhausted after 3", c.Status, c.Attempts)
	}
}

// TestNoCallWithin72HoursOfAnAbandon: after an abandoned call the contact
// is not dialled again for 72 hours, although the retry delay is one hour.
func TestNoCallWithin72HoursOfAnAbandon(t *testing.T) {
	f := newFixture(t, func(c *store.Campaign) { c.MaxAttempts, c.RetryDelaySeconds = 3, 3600 })
	f.addContacts(t, f.campaign.ID, 1, "")
	log := &placements{}
	d := f.newDialler(t, "d1", world(log, simulate.AnswerNoWorker, 10))
	for i, s := range []struct {
		advance time.Duration
		placed  int
	}{
		{0, 1},
		{2 * time.Hour, 1},
		{69 * time.Hour, 1}, // 71 h after
		{61 * time.Minute, 2},
	} {
		f.clock.Advance(s.advance)
		settle(t, d)
		if n := len(log.contacts()); n != s.placed {
			t.Fatalf("step %d: %d attempts placed, want %d", i, n, s.placed)
		}
	}
}

// TestNoCallWithin72HoursOfAnAbandonOfTheNumber: a call to a number is
// abandoned in one campaign; a second campaign of the organisation holding
// the same number does not dial it until 72 hours after the abandon.
func TestNoCallWithin72HoursOfAnAbandonOfTheNumber(t *testing.T) {
	f := newFixture(t, nil) // one attempt per contact
	first := f.addContacts(t, f.campaign.ID, 1, "")[0]
	log := &placements{}
	d := f.newDialler(t, "d1", world(log, simulate.AnswerNoWorker, 10))
	settle(t, d)
	if c := f.contacts(t, f.campaign.ID)[first]; c.LastAbandonAt == nil {
		t.Fatalf("first campaign's contact not abandoned: %+v", c)
	}
	phone := f.contacts(t, f.campaign.ID)[first].Phone

	// A second campaign of the organisation with the same number.
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
	for i, s := range []struct {
		advance time.Duration
		placed  int
	}{
		{2 * time.Hour, 1},
		{69 * time.Hour, 1}, // 71 h after the abandon
		{61 * time.Minute, 2},
	} {
		f.clock.Advance(s.advance)
		settle(t, d)
		if n := len(log.contacts()); n != s.placed {
			t.Fatalf("step %d: %d calls placed, want %d (%v)", i, n, s.placed, log.contacts())
		}
	}
	if got := log.contacts(); got[1] != other.ID {
		t.Fatalf("second call went to %s, want the second campaign's contact %s", got[1], other.ID)
	}
	if c := f.contacts(t, second.ID)[other.ID]; c.Attempts != 1 {
		t.Errorf("second campaign's contact: %d attempts, want 1 (the held-back leases are not attempts)", c.Attempts)
	}
}

// TestAbandonBudget: a campaign whose abandon rate over 24 hours or 30 days
// has reached the cap dials at most one call per free worker; the same
// campaign under its budget dials ahead of its free workers.
func TestAbandonBudget(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ago      time.Duration // when the recorded calls were answered
		abandons int
		ahead    bool
	}{
		{"under budget", time.Hour, 0, true},
		{"over in 24 hours", 2 * time.Hour, 1, false},
		{"over in 30 days", 10 * 24 * time.Hour, 1, false},
		{"old abandon forgotten", 31 * 24 * time.Hour, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.addContacts(t, f.campaign.ID, 60, "")
			ctx := context.Background()
			for i := range 10 {
				r := runtimeapi.CallRecord{Status: runtimeapi.CallCompleted, CampaignID: f.campaign.ID,
					AnsweredAt: f.clock.Now().Add(-tc.ago)}
				if i < tc.abandons {
					r.EndCause = runtimeapi.EndAbandoned
				}
				if _, err := f.st.UpsertCall(ctx, store.CallUpdate{CallID: "old-" + store.NewID(), OrgID: f.org, AgentID: f.agent,
					Status: r.Status, Set: store.RecordSet(r)}); err != nil {
					t.Fatal(err)
				}
			}
			log := &placements{}
			const workers = 10
			d := f.newDialler(t, "d1", world(log, simulate.NoAnswer, workers), func(c *dialler.Config) {
				c.Pacing.LearnDials = 0 // pace from the priors at once
				c.Pacing.MaxDialsPerWorker = 3
			})
			d.Tick(ctx)
			// Dials are placed in the background: count them once every
			// call of the tick has ended (no tick runs meanwhile).
			eventually(t, 20*time.Second, "calls to end", func() bool { return d.Health().CallsInFlight == 0 })
			placed := len(log.contacts())
			if tc.ahead && placed <= workers {
				t.Fatalf("under budget: %d dials for %d free workers, want more (predictive)", placed, workers)
			}
			if !tc.ahead && placed > workers {
				t.Fatalf("over budget: %d dials for %d free workers, want at most one per free worker", placed, workers)
			}
		})
	}
}
