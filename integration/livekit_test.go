package integration

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/voxplatform/vox/internal/testlivekit"
	"github.com/voxplatform/vox/lkapi"
	"github.com/voxplatform/vox/svcauth"
	"github.com/voxplatform/vox/twilio"
)

// relay forwards LiveKit's webhooks to the fleet's nginx, as LiveKit would
// post them to the fleet host's /livekit/dispatch, and keeps the answers to
// the SIP participant_joined ones by room.
type relay struct {
	target atomic.Pointer[string]
	key    string
	secret string

	mu     sync.Mutex // guards status
	status map[string]int
}

func (r *relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	target := r.target.Load()
	if target == nil {
		return
	}
	auth := req.Header.Get("Authorization")
	ev, err := lkapi.VerifyWebhook(r.key, r.secret, body, auth)
	if err != nil {
		return
	}
	out, _ := http.NewRequest(http.MethodPost, *target, strings.NewReader(string(body)))
	out.Header.Set("Authorization", auth)
	out.Header.Set("Content-Type", "application/webhook+json")
	resp, err := http.DefaultClient.Do(out)
	if err != nil {
		return
	}
	resp.Body.Close()
	if lkapi.IsSIP(ev.GetParticipant()) && ev.GetEvent() == lkapi.EventParticipantJoined {
		r.mu.Lock()
		r.status[ev.GetRoom().GetName()] = resp.StatusCode
		r.mu.Unlock()
	}
}

func (r *relay) answered(t *testing.T, room string) int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		s := r.status[room]
		r.mu.Unlock()
		if s != 0 {
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no dispatch answer for %s", room)
	return 0
}

// TestLiveKitThroughNginx: the real voxfleet behind the real nginx carries
// LiveKit calls. /attach reaches the free worker past busy ones (nginx's
// 429 rule) and the callee hears the agent; once every worker is busy,
// /attach and /livekit/dialout are refused with 429, and an inbound call
// dispatched by LiveKit's signed webhook is refused with 429 and its room
// deleted, so the caller is not left ringing.
func TestLiveKitThroughNginx(t *testing.T) {
	rl := &relay{status: map[string]int{}}
	hs := httptest.NewServer(rl)
	defer hs.Close()
	srv := testlivekit.Start(t, testlivekit.Options{WebhookURLs: []string{hs.URL}})
	rl.key, rl.secret = srv.Key, srv.Secret
	sip := srv.StartSIP(t)
	api, err := lkapi.New(lkapi.Config{URL: srv.URL, Key: srv.Key, Secret: srv.Secret})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	trunk, err := api.CreateOutboundTrunk(ctx, "carrier", "sip.carrier.test", []string{"+15550000001"})
	if err != nil {
		t.Fatal(err)
	}
	inTrunk, err := api.CreateInboundTrunk(ctx, "numbers", []string{"+15557770000"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.CreateDispatchRule(ctx, lkapi.DispatchRule{Name: "each", Trunks: []string{inTrunk}, RoomPrefix: "in"}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VOXFLEET_LIVEKIT_URL", srv.URL)
	t.Setenv("VOXFLEET_LIVEKIT_API_KEY", srv.Key)
	t.Setenv("VOXFLEET_LIVEKIT_API_SECRET", srv.Secret)
	t.Setenv("VOXFLEET_LIVEKIT_TRUNK", trunk)
	const n = 3
	f := startFleet(t, n, 0)
	f.waitReady(n)
	target := f.nginx.URL("/livekit/dispatch")
	rl.target.Store(&target)
	tok := token(t, svcauth.FleetAudience(fleetID))

	var busy []*twilio.Client
	for i := 1; i < n; i++ {
		busy = append(busy, f.directCall(t, i))
	}
	f.waitFor(5*time.Second, "2 busy", func() bool { fl, _ := f.health(); return fl.Busy == n-1 })

	tk, err := srv.Token("att-1", "callee", livekit.ParticipantInfo_SIP)
	if err != nil {
		t.Fatal(err)
	}
	callee, err := testlivekit.JoinParticipant(ctx, srv.URL, tk, testlivekit.JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer callee.Leave()
	// A 503 ("no free worker") is nginx between upstream sets just after a
	// reload; the Dialler retries it, and /attach is idempotent on call_id.
	var code int
	var body string
	f.waitFor(10*time.Second, "attach answered by a worker", func() bool {
		code, body = post(t, f.nginx.URL("/attach"), tok, `{"call_id":"att-1","room":"att-1","participant":"callee"}`)
		return code != http.StatusServiceUnavailable
	})
	if code != http.StatusAccepted {
		t.Fatalf("attach: %d %s; want 202 from the free worker", code, body)
	}
	f.waitFor(15*time.Second, "the callee hears the agent", func() bool { return testlivekit.LoudMillis(callee.Heard()) > 200 })
	f.waitFor(5*time.Second, "all busy", func() bool { fl, _ := f.health(); return fl.Busy == n })

	if code, body := post(t, f.nginx.URL("/attach"), tok, `{"call_id":"att-2","room":"att-2"}`); code != http.StatusTooManyRequests {
		t.Fatalf("attach with every worker busy: %d %s; want 429", code, body)
	}
	if code, body := post(t, f.nginx.URL("/livekit/dialout"), tok, `{"call_id":"out-1","to":"+15551000001"}`); code != http.StatusTooManyRequests {
		t.Fatalf("dialout with every worker busy: %d %s; want 429", code, body)
	}

	_, _ = sip.Dial(ctx, "+15558880001", "+15557770000", testlivekit.Phone{}) // its room may go before the phone is in
	var in *testlivekit.Call
	for _, c := range sip.Calls() {
		if c.From == "+15558880001" {
			in = c
		}
	}
	if in == nil {
		t.Fatal("the inbound call was not placed")
	}
	if code := rl.answered(t, in.Room); code != http.StatusTooManyRequests {
		t.Fatalf("dispatch with every worker busy: %d; want 429", code)
	}
	f.waitFor(10*time.Second, "the refused call's room deleted", func() bool {
		ok, err := api.RoomExists(ctx, in.Room)
		return err == nil && !ok
	})

	callee.Leave()
	for _, cl := range busy {
		hangUp(t, cl)
	}
	f.waitFor(15*time.Second, "every worker free", func() bool { fl, _ := f.health(); return fl.Free == n })
}
