package lkplace_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/voxplatform/vox/dialler"
	"github.com/voxplatform/vox/dialler/leader"
	"github.com/voxplatform/vox/dialler/lkplace"
	"github.com/voxplatform/vox/internal/testlivekit"
	"github.com/voxplatform/vox/internal/testmongo"
	"github.com/voxplatform/vox/lkapi"
	"github.com/voxplatform/vox/pacing"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/store"
)

// roomAttacher stands in for the fleet: it takes an answered call only if
// the callee is in the attempt's room under the attempt's identity (what a
// worker joining the room relies on), and has no worker for the numbers in
// full.
type roomAttacher struct {
	lk   *lkapi.Client
	full map[string]bool

	mu       sync.Mutex // guards attached
	attached []string
}

func (a *roomAttacher) Attach(ctx context.Context, d dialler.Dial) (string, error) {
	if a.full[d.To] {
		return "", dialler.ErrNoWorker
	}
	ps, err := a.lk.ListParticipants(ctx, d.Room)
	if err != nil {
		return "", err
	}
	for _, p := range ps {
		if p.Identity == d.Identity && lkapi.IsSIP(p) {
			a.mu.Lock()
			a.attached = append(a.attached, d.To)
			a.mu.Unlock()
			return "http://fleet.test", nil
		}
	}
	return "", fmt.Errorf("callee %s not in room %s", d.Identity, d.Room)
}

func (a *roomAttacher) Pool(context.Context, string) (dialler.Pool, error) {
	return dialler.Pool{Free: 50}, nil
}

// startLiveKit starts a livekit-server with the SIP stand-in and returns the
// stand-in, a client of the server and an outbound trunk calling from
// +15550000001.
func startLiveKit(t *testing.T) (*testlivekit.SIP, *lkapi.Client, string) {
	t.Helper()
	srv := testlivekit.Start(t, testlivekit.Options{})
	sip := srv.StartSIP(t)
	lk, err := lkapi.New(lkapi.Config{URL: srv.URL, Key: srv.Key, Secret: srv.Secret})
	if err != nil {
		t.Fatal(err)
	}
	trunk, err := lk.CreateOutboundTrunk(context.Background(), "carrier", "sip.carrier.test", []string{"+15550000001"})
	if err != nil {
		t.Fatal(err)
	}
	return sip, lk, trunk
}

// TestCampaignThroughLiveKit: a campaign of 20 contacts dialled through a
// real livekit-server and the SIP stand-in: answers, busy lines, no answers,
// a refusal and an abandon (hung up by deleting its room); every contact
// ends final and every call has a record with its SIP status.
func TestCampaignThroughLiveKit(t *testing.T) {
	sip, lk, trunk := startLiveKit(t)
	ctx := context.Background()
	st, err := store.Open(testmongo.Start(t), "vox")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	if err := st.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	org, agent, campaign := store.NewID(), store.NewID(), store.NewID()
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := store.Insert(ctx, st, store.CollAgents, store.Agent{Meta: store.Meta{ID: agent, OrgID: org, CreatedAt: now, UpdatedAt: now},
		AgentSettings: runtimeapi.AgentSettings{Name: "a", Language: "en", MaxCallSeconds: 600}}); err != nil {
		t.Fatal(err)
	}
	if err := store.Insert(ctx, st, store.CollCampaigns, store.Campaign{Meta: store.Meta{ID: campaign, OrgID: org, CreatedAt: now, UpdatedAt: now},
		Name: "c", AgentID: agent, TrunkID: trunk, CallerID: "+15550000001",
		Window:      store.Window{Start: "00:00", End: "23:59", Timezone: "UTC", Days: []int{0, 1, 2, 3, 4, 5, 6}},
		MaxAttempts: 1, RetryDelaySeconds: 60, Priority: 10, Status: store.CampaignRunning}); err != nil {
		t.Fatal(err)
	}
	type want struct {
		status, cause string
		sip           int
	}
	wants := map[string]want{}
	var docs []any
	full := map[string]bool{}
	for i := range 20 {
		number := fmt.Sprintf("+1555200%04d", i)
		ph, w := testlivekit.Phone{Answer: testlivekit.Answers, RingFor: 100 * time.Millisecond}, want{runtimeapi.CallInProgress, "", 200}
		switch {
		case i >= 12 && i < 15:
			ph.Answer, w = testlivekit.Busy, want{runtimeapi.CallBusy, "", 486}
		case i >= 15 && i < 18:
			ph.Answer, w = testlivekit.NoAnswer, want{runtimeapi.CallNoAnswer, "", 480}
		case i == 18:
			ph.Answer, w = testlivekit.Rejects, want{runtimeapi.CallFailed, "", 603}
		case i == 19:
			full[number], w = true, want{runtimeapi.CallCompleted, runtimeapi.EndAbandoned, 200}
		}
		sip.SetPhone(number, ph)
		wants[number] = w
		docs = append(docs, store.Contact{Meta: store.Meta{ID: store.NewID(), OrgID: org, CreatedAt: now, UpdatedAt: now},
			CampaignID: campaign, Phone: number, Status: store.ContactPending})
	}
	if _, err := st.C(store.CollContacts).InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.Default()
	}
	att := &roomAttacher{lk: lk, full: full}
	cfg := dialler.Config{Owner: "d1", Interval: 100 * time.Millisecond, LeaderTTL: 3 * time.Second,
		RingTimeout: 2 * time.Second, AttachTimeout: 5 * time.Second, MaxCall: time.Minute, AbandonCap: 0.03,
		DrainTimeout: 10 * time.Second, TallyEvery: time.Second, Pacing: pacing.DefaultConfig(),
		Now: func() time.Time { return time.Date(2026, 6, 3, 12, 0, 0, 0, time.UTC).Add(time.Since(now)) }}
	d, err := dialler.New(cfg, st, leader.New(st, "d1", cfg.LeaderTTL, logger), lkplace.New(lk), att, att, logger)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(rctx) }()
	deadline := time.Now().Add(90 * time.Second)
	for {
		c, err := store.Get[store.Campaign](ctx, st, store.CollCampaigns, org, campaign)
		if err == nil && c.Status == store.CampaignCompleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign not completed: %+v %v", c.Status, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	cs, err := st.CampaignContacts(ctx, org, campaign)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		w := wants[c.Phone]
		if !store.ContactFinal(c.Status) || c.Attempts != 1 {
			t.Errorf("%s: contact %s after %d attempts, want final after 1", c.Phone, c.Status, c.Attempts)
		}
		callID, room, _ := dialler.Names(c.ID, 1)
		r, err := store.FindOne[store.Call](ctx, st, store.CollCalls, bson.M{"_id": callID})
		if err != nil || r.Status != w.status || r.EndCause != w.cause || r.SIPStatus != w.sip || r.To != c.Phone {
			t.Errorf("%s: record %s/%s sip %d (%v), want %s/%s sip %d", c.Phone, r.Status, r.EndCause, r.SIPStatus, err, w.status, w.cause, w.sip)
		}
		if w.cause == runtimeapi.EndAbandoned {
			if exists, err := lk.RoomExists(ctx, room); err != nil || exists {
				t.Errorf("abandoned call's room %s still open (%v)", room, err)
			}
		}
	}
	// Every call the stand-in carried was asked with the attempt's room,
	// identity and the campaign's ringing timeout.
	calls := sip.Calls()
	if len(calls) != 20 {
		t.Errorf("the SIP service carried %d calls, want 20", len(calls))
	}
	for _, c := range calls {
		if got := c.Request.RingingTimeout.AsDuration(); got != 2*time.Second {
			t.Errorf("call to %s: ringing timeout %v, want 2s", c.To, got)
		}
	}
	if len(att.attached) != 12 {
		t.Errorf("%d calls attached with their callee in the room, want 12", len(att.attached))
	}
}

// TestGivingUpOnARingingCall: a placement given up while the phone rings
// (the pacer hanging up its dial) ends the call — the phone stops ringing
// and the room is gone — while one given up just after the callee picked
// up, before LiveKit's answer came back, is handed on as answered: a person
// on the line is not hung up.
func TestGivingUpOnARingingCall(t *testing.T) {
	sip, lk, trunk := startLiveKit(t)
	ctx := context.Background()
	placer := lkplace.New(lk)
	place := func(number string, ph testlivekit.Phone, giveUp func(*testlivekit.Call)) (dialler.Placed, *testlivekit.Call) {
		t.Helper()
		sip.SetPhone(number, ph)
		callID, room, identity := dialler.Names(store.NewID(), 1)
		d := dialler.Dial{CallID: callID, Room: room, Identity: identity, To: number, From: "+15550000001",
			TrunkID: trunk, RingTimeout: 20 * time.Second, MaxCall: time.Minute}
		pctx, cancel := context.WithCancel(ctx)
		defer cancel()
		res := make(chan dialler.Placed, 1)
		go func() {
			r, err := placer.Place(pctx, d)
			if err != nil {
				r = dialler.Placed{Result: dialler.Failed, Reason: err.Error()}
			}
			res <- r
		}()
		c := sip.WaitCall(t, number, 10*time.Second)
		giveUp(c)
		cancel()
		select {
		case r := <-res:
			return r, c
		case <-time.After(15 * time.Second):
			t.Fatalf("%s: Place did not return after it was given up", number)
			return dialler.Placed{}, nil
		}
	}

	// Ringing: given up once the phone is in the room and has rung a moment
	// (the pacer hangs up only dials that have rung 17 s).
	r, c := place("+15552100001", testlivekit.Phone{Answer: testlivekit.NoAnswer}, func(c *testlivekit.Call) {
		deadline := time.Now().Add(10 * time.Second)
		for c.Phone() == nil {
			if time.Now().After(deadline) {
				t.Fatal("the phone did not join the call's room")
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond)
	})
	if r.Result == dialler.Answered {
		t.Fatalf("a call given up while ringing came back answered: %+v", r)
	}
	select {
	case <-c.Ended():
	case <-time.After(10 * time.Second):
		t.Fatal("the phone still rings after the call was given up")
	}
	select {
	case <-c.Answered():
		t.Fatal("the phone given up on was answered")
	default:
	}

	// Answered, LiveKit's answer late: given up as the phone picks up.
	r, c = place("+15552100002", testlivekit.Phone{Answer: testlivekit.Answers, RingFor: 300 * time.Millisecond,
		AnsweredLate: 3 * time.Second}, func(c *testlivekit.Call) {
		select {
		case <-c.Answered():
		case <-time.After(10 * time.Second):
			t.Fatal("the phone did not answer")
		}
	})
	if r.Result != dialler.Answered {
		t.Fatalf("a call given up just after the callee answered: %+v, want answered", r)
	}
	select {
	case <-c.Ended():
		t.Fatal("the callee who had answered was hung up")
	case <-time.After(time.Second):
	}
	c.Hangup()
}
