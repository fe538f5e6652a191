package dialler_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/voxplatform/vox/dialler"
	"github.com/voxplatform/vox/dialler/leader"
	"github.com/voxplatform/vox/dialler/simulate"
	"github.com/voxplatform/vox/internal/testenv"
	"github.com/voxplatform/vox/internal/testmongo"
	"github.com/voxplatform/vox/pacing"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/store"
)

var shared struct {
	once  sync.Once
	mongo *testmongo.Server
	dir   string
	err   error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.mongo != nil {
		shared.mongo.Stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

var dbNameRE = regexp.MustCompile(`[^A-Za-z0-9]+`)

// openStore returns a store on a database of its own for the test, with
// the indexes voxbridge creates.
func openStore(t *testing.T) *store.Store {
	t.Helper()
	testenv.Require(t, "go", "install Go 1.26")
	shared.once.Do(func() {
		if shared.dir, shared.err = os.MkdirTemp("", "voxdialler-test-"); shared.err != nil {
			return
		}
		bin, err := testmongo.Binary()
		if err != nil {
			shared.err = err
			return
		}
		shared.mongo, shared.err = testmongo.Launch(bin, shared.dir)
	})
	if shared.err != nil {
		t.Fatalf("start MongoDB-wire server: %v (run scripts/deps-ferretdb.sh)", shared.err)
	}
	name := dbNameRE.ReplaceAllString(t.Name(), "_")
	if len(name) > 50 {
		name = name[len(name)-50:]
	}
	st, err := store.Open(shared.mongo.URI(), "d_"+name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A database per test name, emptied first: a repeated run (-count)
	// must not find the campaigns of the last one running.
	if err := st.C(store.CollCampaigns).Database().Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	return st
}

// clock is a test clock that runs at real speed from base and can jump
// forward.
type clock struct {
	mu    sync.Mutex // guards skip
	base  time.Time
	start time.Time
	skip  time.Duration
}

// noon is a Wednesday, midday in UTC.
var noon = time.Date(2026, 6, 3, 12, 0, 0, 0, time.UTC)

func newClock(base time.Time) *clock { return &clock{base: base, start: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base.Add(time.Since(c.start) + c.skip)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.skip += d
	c.mu.Unlock()
}

// fixture is one organisation with a campaign in a test database.
type fixture struct {
	st       *store.Store
	org      string
	agent    string
	campaign store.Campaign
	clock    *clock
	next     int // index of the next contact's number
}

func newFixture(t *testing.T, mutate func(*store.Campaign)) *fixture {
	t.Helper()
	st := openStore(t)
	f := &fixture{st: st, org: store.NewID(), agent: store.NewID(), clock: newClock(noon)}
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := store.Insert(ctx, st, store.CollAgents, store.Agent{Meta: store.Meta{ID: f.agent, OrgID: f.org, CreatedAt: now, UpdatedAt: now},
		AgentSettings: runtimeapi.AgentSettings{Name: "a", Language: "en", MaxCallSeconds: 600}}); err != nil {
		t.Fatal(err)
	}
	f.campaign = store.Campaign{Meta: store.Meta{ID: store.NewID(), OrgID: f.org, CreatedAt: now, UpdatedAt: now},
		Name: "c", AgentID: f.agent, TrunkID: "ST_trunk", CallerID: "+442079460000",
		Window:      store.Window{Start: "09:00", End: "17:00", Timezone: "UTC", Days: []int{0, 1, 2, 3, 4, 5, 6}},
		MaxAttempts: 1, RetryDelaySeconds: 3600, Priority: 50, Status: store.CampaignRunning}
	if mutate != nil {
		mutate(&f.campaign)
	}
	if err := f.campaign.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := store.Insert(ctx, st, store.CollCampaigns, f.campaign); err != nil {
		t.Fatal(err)
	}
	return f
}

// addContacts inserts n pending contacts with numbers +4470000000NN and
// returns their ids in order.
func (f *fixture) addContacts(t *testing.T, campaignID string, n int, tz string) []string {
	t.Helper()
	ids := make([]string, n)
	docs := make([]any, n)
	now := time.Now().UTC().Truncate(time.Millisecond)
	for i := range n {
		ids[i] = store.NewID()
		docs[i] = store.Contact{Meta: store.Meta{ID: ids[i], OrgID: f.org, CreatedAt: now, UpdatedAt: now},
			CampaignID: campaignID, Phone: phoneOf(campaignID, f.next), Status: store.ContactPending, Timezone: tz}
		f.next++
	}
	if _, err := f.st.C(store.CollContacts).InsertMany(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	return ids
}

func phoneOf(campaignID string, i int) string {
	// a distinct E.164 number per campaign and index
	h := 0
	for _, r := range campaignID {
		h = (h*31 + int(r)) % 1000
	}
	return "+44700" + pad(h, 3) + pad(i, 4)
}

func pad(v, n int) string {
	s := ""
	for range n {
		s = string(rune('0'+v%10)) + s
		v /= 10
	}
	return s
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testConfig is a fast configuration: 50 ms ticks, 300 ms ringing; the
// leader lease outlasts the slowest tick under the race detector.
func testConfig(owner string) dialler.Config {
	return dialler.Config{
		Owner: owner, Interval: 50 * time.Millisecond, LeaderTTL: 3 * time.Second,
		RingTimeout: 300 * time.Millisecond, AttachTimeout: time.Second, MaxCall: time.Minute,
		AbandonCap: 0.03, DrainTimeout: 5 * time.Second, TallyEvery: time.Second, Pacing: pacing.DefaultConfig(),
	}
}

// newDialler builds a Dialler on the fixture's store and clock, dialling
// into world.
func (f *fixture) newDialler(t *testing.T, owner string, world *simulate.World, tune ...func(*dialler.Config)) *dialler.Dialler {
	t.Helper()
	cfg := testConfig(owner)
	cfg.Now = f.clock.Now
	for _, fn := range tune {
		fn(&cfg)
	}
	el := leader.New(f.st, owner, cfg.LeaderTTL, testLogger(t))
	d, err := dialler.New(cfg, f.st, el, world, world, world, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(world.Close)
	return d
}

// contacts reads every contact of a campaign by id.
func (f *fixture) contacts(t *testing.T, campaignID string) map[string]store.Contact {
	t.Helper()
	all, err := f.st.CampaignContacts(context.Background(), f.org, campaignID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.Contact{}
	for _, c := range all {
		out[c.ID] = c
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
