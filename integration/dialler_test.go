package integration

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/voxplatform/vox/dialler"
	"github.com/voxplatform/vox/dialler/fleets"
	"github.com/voxplatform/vox/dialler/leader"
	"github.com/voxplatform/vox/dialler/lkplace"
	"github.com/voxplatform/vox/internal/testlivekit"
	"github.com/voxplatform/vox/internal/testmongo"
	"github.com/voxplatform/vox/internal/testredis"
	"github.com/voxplatform/vox/lkapi"
	"github.com/voxplatform/vox/pacing"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/runtimeclient"
	"github.com/voxplatform/vox/store"
	"github.com/voxplatform/vox/twilio"
)

// TestDiallerCampaignFullStack: a campaign of 20 contacts runs to the end
// through every real part: the Dialler places each call through a real
// livekit-server and the SIP stand-in, the real voxbridge selects the fleet
// and reports its capacity, and the answered calls are attached through a
// real nginx to real voxfleet workers, which join the callee's room. The
// last contact's call is answered while every worker is taken: it is
// abandoned. Every contact ends final, every call has a record.
func TestDiallerCampaignFullStack(t *testing.T) {
	srv := testlivekit.Start(t, testlivekit.Options{})
	sip := srv.StartSIP(t)
	ctx := context.Background()
	lk, err := lkapi.New(lkapi.Config{URL: srv.URL, Key: srv.Key, Secret: srv.Secret})
	if err != nil {
		t.Fatal(err)
	}
	trunk, err := lk.CreateOutboundTrunk(ctx, "carrier", "sip.carrier.test", []string{"+15550000001"})
	if err != nil {
		t.Fatal(err)
	}
	mongoURI := testmongo.Start(t)
	rd := testredis.StartServer(t)
	t.Setenv("VOXFLEET_LIVEKIT_URL", srv.URL)
	t.Setenv("VOXFLEET_LIVEKIT_API_KEY", srv.Key)
	t.Setenv("VOXFLEET_LIVEKIT_API_SECRET", srv.Secret)
	t.Setenv("VOXFLEET_LIVEKIT_TRUNK", trunk)
	const n = 3
	f := startFleet(t, n, 0)
	f.waitReady(n)
	bridge := startBridge(t, mongoURI, rd.URL(), f.nginx.URL(""))

	st, err := store.Open(mongoURI, "vox")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	f.waitFor(60*time.Second, "voxbridge to create the Dialler's indexes", func() bool {
		missing, err := st.MissingIndexes(ctx)
		return err == nil && len(missing) == 0
	})
	org, agent, campaign := store.NewID(), store.NewID(), store.NewID()
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := store.Insert(ctx, st, store.CollAgents, store.Agent{Meta: store.Meta{ID: agent, OrgID: org, CreatedAt: now, UpdatedAt: now},
		AgentSettings: runtimeapi.AgentSettings{Name: "a", Language: "en", Greeting: "Hello", MaxCallSeconds: 60}}); err != nil {
		t.Fatal(err)
	}
	if err := store.Insert(ctx, st, store.CollCampaigns, store.Campaign{Meta: store.Meta{ID: campaign, OrgID: org, CreatedAt: now, UpdatedAt: now},
		Name: "c", AgentID: agent, TrunkID: trunk, CallerID: "+15550000001",
		Window:      store.Window{Start: "00:00", End: "23:59", Timezone: "UTC", Days: []int{0, 1, 2, 3, 4, 5, 6}},
		MaxAttempts: 1, RetryDelaySeconds: 60, Priority: 10, Status: store.CampaignRunning}); err != nil {
		t.Fatal(err)
	}
	const last = "+15552000019"
	var docs []any
	for i := range 20 {
		number := fmt.Sprintf("+1555200%04d", i)
		ph := testlivekit.Phone{Answer: testlivekit.Answers, RingFor: 100 * time.Millisecond, HangupAfter: 1500 * time.Millisecond}
		switch {
		case i >= 12 && i < 15:
			ph.Answer = testlivekit.Busy
		case i >= 15 && i < 18:
			ph.Answer = testlivekit.NoAnswer
		case i == 18:
			ph.Answer = testlivekit.Rejects
		case i == 19:
			ph.RingFor = 3 * time.Second // answered once every worker is taken
		}
		sip.SetPhone(number, ph)
		docs = append(docs, store.Contact{Meta: store.Meta{ID: store.NewID(), OrgID: org, CreatedAt: now, UpdatedAt: now},
			CampaignID: campaign, Phone: number, Status: store.ContactPending})
	}
	if _, err := st.C(store.CollContacts).InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}

	rt, err := runtimeclient.New(runtimeclient.Config{BaseURL: bridge, Secret: []byte(secret), Subject: "voxdialler",
		Timeout: 3 * time.Second, Attempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	fl := fleets.New(rt, []byte(secret))
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.Default()
	}
	cfg := dialler.Config{Owner: "d1", Interval: 200 * time.Millisecond, LeaderTTL: 5 * time.Second,
		RingTimeout: 5 * time.Second, AttachTimeout: 10 * time.Second, MaxCall: time.Minute, AbandonCap: 0.03,
		DrainTimeout: 20 * time.Second, TallyEvery: time.Second, Pacing: pacing.DefaultConfig(),
		Now: func() time.Time { return time.Date(2026, 6, 3, 12, 0, 0, 0, time.UTC).Add(time.Since(now)) }}
	d, err := dialler.New(cfg, st, leader.New(st, "d1", cfg.LeaderTTL, logger), lkplace.New(lk), fl, fl, logger)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(rctx) }()
	defer func() {
		cancel()
		<-done
	}()

	// Once the last contact rings and the earlier calls have ended, take
	// every worker: its answer finds none.
	f.waitFor(90*time.Second, "the last contact's call", func() bool {
		for _, c := range sip.Calls() {
			if c.To == last {
				return true
			}
		}
		return false
	})
	f.waitFor(20*time.Second, "every worker free", func() bool { fl, _ := f.health(); return fl.Free == n })
	var taken []*twilio.Client
	for i := 1; i <= n; i++ {
		taken = append(taken, f.directCall(t, i))
	}
	f.waitFor(60*time.Second, "the campaign to complete", func() bool {
		c, err := store.Get[store.Campaign](ctx, st, store.CollCampaigns, org, campaign)
		return err == nil && c.Status == store.CampaignCompleted
	})
	for _, cl := range taken {
		hangUp(t, cl)
	}

	cs, err := st.CampaignContacts(ctx, org, campaign)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, c := range cs {
		if !store.ContactFinal(c.Status) || c.Attempts != 1 {
			t.Errorf("%s: contact %s after %d attempts, want final after 1", c.Phone, c.Status, c.Attempts)
		}
		callID, _, _ := dialler.Names(c.ID, 1)
		r, err := store.FindOne[store.Call](ctx, st, store.CollCalls, bson.M{"_id": callID})
		if err != nil || store.StatusRank(r.Status) < 3 {
			t.Errorf("%s: record %s (%v), want answered or ended", c.Phone, r.Status, err)
			continue
		}
		key := r.Status
		if r.EndCause == runtimeapi.EndAbandoned {
			key = "abandoned"
		}
		counts[key]++
		if r.RingSeconds != nil {
			t.Logf("%s: %s/%s sip %d ring %.1fs %s", c.Phone, r.Status, r.EndCause, r.SIPStatus, *r.RingSeconds, r.Error)
		}
		if c.Phone == last && r.EndCause != runtimeapi.EndAbandoned {
			t.Errorf("the call answered with every worker taken: %s/%s, want abandoned", r.Status, r.EndCause)
		}
		if key != "abandoned" && (r.Status == runtimeapi.CallInProgress || r.Status == runtimeapi.CallCompleted) && r.FleetURL != f.nginx.URL("") {
			t.Errorf("%s: answered call's fleet_url %q, want the fleet behind nginx", c.Phone, r.FleetURL)
		}
	}
	t.Logf("records: %v", counts)
	if counts[runtimeapi.CallBusy] != 3 || counts[runtimeapi.CallNoAnswer] != 3 || counts[runtimeapi.CallFailed] != 1 ||
		counts["abandoned"] != 1 || counts[runtimeapi.CallInProgress]+counts[runtimeapi.CallCompleted] != 12 {
		t.Errorf("records %v, want 12 answered, 3 busy, 3 no-answer, 1 failed, 1 abandoned", counts)
	}
}
