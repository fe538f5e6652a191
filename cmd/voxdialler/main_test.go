package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/voxplatform/vox/dialler"
	"github.com/voxplatform/vox/internal/testmongo"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/store"
)

func TestHelpListsEverySetting(t *testing.T) {
	var out, errb bytes.Buffer
	if code := runMain([]string{"-h"}, func(string) string { return "" }, &out, &errb); code != 0 {
		t.Fatalf("-h exit %d", code)
	}
	for _, s := range settings {
		if !strings.Contains(out.String(), "$"+s.Name+" ") {
			t.Errorf("-h does not list %s", s.Name)
		}
	}
}

func TestConfigNamesEveryMissingSetting(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"empty, livekit", nil, nil, []string{"MONGODB_URI", "VOXBRIDGE_URL", "VOX_SERVICE_SECRET", "LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"}},
		{"simulate needs only the database", map[string]string{"DIALLER_PLACER": "simulate"}, nil, []string{"MONGODB_URI"}},
		{"bad values", map[string]string{"MONGODB_URI": "http://x", "DIALLER_PLACER": "simulate", "LOOP_INTERVAL_SECONDS": "soon",
			"DIALLER_ABANDON_CAP": "2", "HEALTH_PORT": "99999"}, []string{"--bogus"},
			[]string{"MONGODB_URI", "LOOP_INTERVAL_SECONDS", "DIALLER_ABANDON_CAP", "HEALTH_PORT", "--bogus"}},
		{"livekit ringing at least 15 s", map[string]string{"MONGODB_URI": "mongodb://h/", "VOXBRIDGE_URL": "http://b",
			"VOX_SERVICE_SECRET": strings.Repeat("s", 32), "LIVEKIT_URL": "ws://lk", "LIVEKIT_API_KEY": "k",
			"LIVEKIT_API_SECRET": strings.Repeat("x", 32), "DIALLER_RING_TIMEOUT_SECONDS": "5"}, nil,
			[]string{"DIALLER_RING_TIMEOUT_SECONDS"}},
		{"placer", map[string]string{"MONGODB_URI": "mongodb://h/"}, []string{"--placer", "carrier-pigeon"}, []string{"DIALLER_PLACER"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runMain(tc.args, func(k string) string { return tc.env[k] }, &out, &errb)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr:\n%s", code, errb.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("message does not name %s:\n%s", w, errb.String())
				}
			}
		})
	}
	if _, err := loadConfig(func(k string) string {
		return map[string]string{"MONGODB_URI": "mongodb://h/vox", "DIALLER_PLACER": "simulate"}[k]
	}, nil); err != nil {
		t.Fatalf("a good simulate configuration: %v", err)
	}
}

// binary builds voxdialler once per test run.
var binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "voxdialler-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "voxdialler")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// middayZone is a fixed-offset zone where it is around midday now, so that
// a 06:00–18:00 window is open whenever the test runs.
func middayZone() string {
	k := 12 - time.Now().UTC().Hour()
	switch {
	case k > 0:
		return fmt.Sprintf("Etc/GMT-%d", k)
	case k < 0:
		return fmt.Sprintf("Etc/GMT+%d", -k)
	}
	return "Etc/GMT"
}

type world struct {
	st       *store.Store
	uri      string
	org      string
	campaign string
	contacts []string
	simLog   string
}

func newWorld(t *testing.T, contacts int) *world {
	t.Helper()
	w := &world{uri: testmongo.Start(t), org: store.NewID(), campaign: store.NewID(), simLog: filepath.Join(t.TempDir(), "placed.log")}
	st, err := store.Open(w.uri, "vox")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	w.st = st
	ctx := context.Background()
	if err := st.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	agent := store.NewID()
	if err := store.Insert(ctx, st, store.CollAgents, store.Agent{Meta: store.Meta{ID: agent, OrgID: w.org, CreatedAt: now, UpdatedAt: now},
		AgentSettings: runtimeapi.AgentSettings{Name: "a", Language: "en", MaxCallSeconds: 600}}); err != nil {
		t.Fatal(err)
	}
	c := store.Campaign{Meta: store.Meta{ID: w.campaign, OrgID: w.org, CreatedAt: now, UpdatedAt: now}, Name: "c",
		AgentID: agent, TrunkID: "ST_trunk", Window: store.Window{Start: "06:00", End: "18:00", Timezone: middayZone(),
			Days: []int{0, 1, 2, 3, 4, 5, 6}}, MaxAttempts: 1, RetryDelaySeconds: 60, Priority: 10, Status: store.CampaignRunning}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := store.Insert(ctx, st, store.CollCampaigns, c); err != nil {
		t.Fatal(err)
	}
	var docs []any
	for i := range contacts {
		id := store.NewID()
		w.contacts = append(w.contacts, id)
		docs = append(docs, store.Contact{Meta: store.Meta{ID: id, OrgID: w.org, CreatedAt: now, UpdatedAt: now},
			CampaignID: w.campaign, Phone: fmt.Sprintf("+4470000%05d", i), Status: store.ContactPending})
	}
	if _, err := st.C(store.CollContacts).InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	return w
}

type proc struct {
	name string
	cmd  *exec.Cmd
	port int
	// exited is closed when the process has exited, with err set.
	exited chan struct{}
	err    error
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// syncBuffer is a bytes.Buffer safe for the process's writer and the test.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (w *world) start(t *testing.T, name string, extra ...string) (*proc, *syncBuffer) {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, port: freePort(t), exited: make(chan struct{})}
	out := &syncBuffer{}
	p.cmd = exec.Command(bin)
	p.cmd.Env = append(os.Environ(),
		"MONGODB_URI="+w.uri, "MONGODB_DATABASE=vox", "DIALLER_PLACER=simulate", "DIALLER_ID="+name,
		"LOOP_INTERVAL_SECONDS=0.2", "DIALLER_LEADER_TTL_SECONDS=2", fmt.Sprintf("HEALTH_PORT=%d", p.port),
		"DIALLER_RING_TIMEOUT_SECONDS=1.5", "DIALLER_ATTACH_TIMEOUT_SECONDS=1", "DIALLER_DRAIN_SECONDS=10",
		"DIALLER_SIM_WORKERS=4", "DIALLER_SIM_ANSWER=0.5", "DIALLER_SIM_BUSY=0.1", "DIALLER_SIM_FAIL=0.05",
		"DIALLER_SIM_RING_MIN_SECONDS=0.2", "DIALLER_SIM_RING_MAX_SECONDS=1", "DIALLER_SIM_HANDLE_SECONDS=1",
		"DIALLER_SIM_SEED="+fmt.Sprint(len(name)+int(name[len(name)-1])), "DIALLER_SIM_LOG="+w.simLog, "LOG_LEVEL=info")
	p.cmd.Env = append(p.cmd.Env, extra...)
	p.cmd.Stdout, p.cmd.Stderr = out, out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	return p, out
}

func (p *proc) health() (dialler.Health, int, error) {
	var h dialler.Health
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", p.port))
	if err != nil {
		return h, 0, err
	}
	defer resp.Body.Close()
	return h, resp.StatusCode, json.NewDecoder(resp.Body).Decode(&h)
}

func (w *world) placed(t *testing.T) []string {
	b, err := os.ReadFile(w.simLog)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(line); len(f) == 4 {
			out = append(out, f[2])
		}
	}
	return out
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// finished checks that every contact is in a final state and every call
// placed has a final record.
func (w *world) finished(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	cs, err := w.st.CampaignContacts(ctx, w.org, w.campaign)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if !store.ContactFinal(c.Status) {
			t.Errorf("contact %s: status %s, not final", c.ID, c.Status)
		}
	}
	for _, id := range w.placed(t) {
		callID, _, _ := dialler.Names(id, 1)
		r, err := store.FindOne[store.Call](ctx, w.st, store.CollCalls, bson.M{"_id": callID})
		if err != nil || store.StatusRank(r.Status) < 3 {
			t.Errorf("call %s: record %+v (%v), want answered or ended", callID, r.Status, err)
		}
	}
}

// TestStandbyTakesOverNoContactDialledTwice: two voxdialler processes on one
// database; the leader is killed (SIGKILL) mid-campaign; the standby takes
// over within 10 s, and no contact is ever dialled twice (every contact has
// one attempt allowed, so a second placement would be a double dial).
func TestStandbyTakesOverNoContactDialledTwice(t *testing.T) {
	w := newWorld(t, 80)
	a, _ := w.start(t, "dialler-a")
	eventually(t, 30*time.Second, "dialler-a to lead", func() bool {
		h, _, err := a.health()
		return err == nil && h.Role == "leader"
	})
	b, _ := w.start(t, "dialler-b")
	eventually(t, 10*time.Second, "dialler-b to answer /health as standby", func() bool {
		h, code, err := b.health()
		return err == nil && code == 200 && h.Role == "standby" && h.Leader == "dialler-a"
	})
	eventually(t, 30*time.Second, "a third of the campaign to be dialled", func() bool { return len(w.placed(t)) >= 25 })

	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	<-a.exited
	before := len(w.placed(t))
	var took time.Duration
	eventually(t, 15*time.Second, "dialler-b to lead", func() bool {
		h, _, err := b.health()
		took = time.Since(killed)
		return err == nil && h.Role == "leader" && h.Epoch == 2
	})
	if took > 10*time.Second {
		t.Fatalf("standby took over %v after the leader died, want within 10 s", took)
	}
	t.Logf("standby led %v after the leader was killed; %d calls placed before", took.Round(10*time.Millisecond), before)
	eventually(t, 90*time.Second, "the campaign to complete", func() bool {
		c, err := store.Get[store.Campaign](context.Background(), w.st, store.CollCampaigns, w.org, w.campaign)
		return err == nil && c.Status == store.CampaignCompleted
	})
	seen := map[string]int{}
	for _, id := range w.placed(t) {
		seen[id]++
		if seen[id] > 1 {
			t.Errorf("contact %s dialled %d times", id, seen[id])
		}
	}
	if after := len(w.placed(t)); after <= before {
		t.Errorf("the standby placed no call after taking over (%d before, %d after)", before, after)
	}
	w.finished(t)
	if len(seen) > len(w.contacts) {
		t.Errorf("%d contacts dialled of %d", len(seen), len(w.contacts))
	}
}

// TestSIGTERMStopsDiallingAndLetsCallsFinish: SIGTERM stops new dials at
// once, the calls already placed are answered and attached (or end), the
// process exits 0, leadership is released for a standby, and no lease is
// left behind.
func TestSIGTERMStopsDiallingAndLetsCallsFinish(t *testing.T) {
	w := newWorld(t, 200)
	// Most calls are answered, so that the few in flight at SIGTERM surely
	// include one to attach (at the default 0.3, three in flight are all
	// unanswered one time in three).
	a, out := w.start(t, "dialler-a", "DIALLER_SIM_WORKERS=20", "DIALLER_SIM_RING_MIN_SECONDS=1", "DIALLER_SIM_RING_MAX_SECONDS=1.4",
		"DIALLER_SIM_ANSWER=0.9", "DIALLER_SIM_BUSY=0.05")
	eventually(t, 30*time.Second, "calls to be placed", func() bool {
		h, _, err := a.health()
		return err == nil && h.Role == "leader" && h.CallsInFlight >= 3
	})
	metrics := func() string {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", a.port))
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		var m bytes.Buffer
		m.ReadFrom(resp.Body)
		return m.String()
	}
	want := []string{"vox_dialler_dials_total{campaign=", "vox_dialler_pacing_ratio{campaign=", "vox_dialler_leader 1",
		"vox_dialler_ring_seconds_bucket{campaign=", `vox_dialler_ticks_total{role="leader"}`}
	eventually(t, 10*time.Second, "every dialler metric", func() bool {
		m := metrics()
		for _, w := range want {
			if !strings.Contains(m, w) {
				return false
			}
		}
		return true
	})
	var co, ce bytes.Buffer
	url := fmt.Sprintf("--url=http://127.0.0.1:%d", a.port)
	if code := runMain([]string{"check", url}, func(string) string { return "" }, &co, &ce); code != 0 ||
		!strings.HasPrefix(co.String(), "OK ") || !strings.Contains(co.String(), "leader") {
		t.Errorf("check of a running leader: exit %d: %s%s", code, co.String(), ce.String())
	}
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopped := len(w.placed(t))
	select {
	case <-a.exited:
		if a.err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", a.err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("voxdialler did not exit within 20 s of SIGTERM")
	}
	// At most the dials of the tick in progress were added.
	if n := len(w.placed(t)); n > stopped+20 {
		t.Errorf("%d calls placed after SIGTERM", n-stopped)
	}
	co.Reset()
	if code := runMain([]string{"check", url}, func(string) string { return "" }, &co, &ce); code != 1 || !strings.HasPrefix(co.String(), "UNHEALTHY") {
		t.Errorf("check of a stopped dialler: exit %d: %s", code, co.String())
	}
	ctx := context.Background()
	if n, err := store.Count(ctx, w.st, store.CollContacts, bson.M{"status": store.ContactDialling}); err != nil || n != 0 {
		t.Errorf("%d contacts left leased (%v)", n, err)
	}
	answered, err := store.Count(ctx, w.st, store.CollCalls, bson.M{"status": runtimeapi.CallInProgress})
	if err != nil || answered == 0 {
		t.Errorf("no call answered and attached (%v)", err)
	}
	for _, id := range w.placed(t) {
		callID, _, _ := dialler.Names(id, 1)
		r, err := store.FindOne[store.Call](ctx, w.st, store.CollCalls, bson.M{"_id": callID})
		if err != nil || store.StatusRank(r.Status) < 3 || r.EndCause == runtimeapi.EndAbandoned {
			t.Errorf("call %s after SIGTERM: %s %s (%v), want attached or ended, not abandoned", callID, r.Status, r.EndCause, err)
		}
	}
	l, err := w.st.CurrentLeader(ctx)
	if err != nil || l.LeaseUntil.After(time.Now()) {
		t.Errorf("leadership not released: %+v %v", l, err)
	}
	if !strings.Contains(out.String(), "released leadership") {
		t.Errorf("no release logged:\n%s", out.String())
	}
}
