package lkapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/voxplatform/vox/internal/testlivekit"
	"github.com/voxplatform/vox/lkapi"
)

func TestConfigValidate(t *testing.T) {
	good := lkapi.Config{URL: "wss://lk.example.com", Key: "APIkey", Secret: strings.Repeat("s", 32)}
	cases := []struct {
		name string
		edit func(*lkapi.Config)
		want []string // substrings of the error; none means valid
	}{
		{"good", func(*lkapi.Config) {}, nil},
		{"http url", func(c *lkapi.Config) { c.URL = "http://127.0.0.1:7880" }, nil},
		{"all missing", func(c *lkapi.Config) { *c = lkapi.Config{} }, []string{"X_URL is required", "X_API_KEY is required", "X_API_SECRET is required"}},
		{"bad scheme", func(c *lkapi.Config) { c.URL = "ftp://x" }, []string{"X_URL \"ftp://x\""}},
		{"no host", func(c *lkapi.Config) { c.URL = "ws://" }, []string{"X_URL"}},
		{"short secret", func(c *lkapi.Config) { c.Secret = "short" }, []string{"X_API_SECRET is 5 characters"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			err := c.Validate("X_")
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate = nil, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if got := (lkapi.Config{URL: "https://lk.example.com"}).WSURL(); got != "wss://lk.example.com" {
		t.Errorf("WSURL = %q", got)
	}
}

// hooks collects the webhook requests livekit-server sends.
type hooks struct {
	mu   sync.Mutex
	reqs []hook
}

type hook struct {
	body []byte
	auth string
}

func (h *hooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.reqs = append(h.reqs, hook{b, r.Header.Get("Authorization")})
	h.mu.Unlock()
}

func (h *hooks) find(t *testing.T, event, room string) hook {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		reqs := append([]hook(nil), h.reqs...)
		h.mu.Unlock()
		for _, r := range reqs {
			if strings.Contains(string(r.body), `"`+event+`"`) && strings.Contains(string(r.body), room) {
				return r
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s webhook for %s", event, room)
	return hook{}
}

func TestAgainstLiveKit(t *testing.T) {
	h := &hooks{}
	hs := httptest.NewServer(h)
	defer hs.Close()
	srv := testlivekit.Start(t, testlivekit.Options{WebhookURLs: []string{hs.URL}})
	sip := srv.StartSIP(t)
	ctx := context.Background()
	c, err := lkapi.New(lkapi.Config{URL: srv.URL, Key: srv.Key, Secret: srv.Secret})
	if err != nil {
		t.Fatal(err)
	}
	trunk, err := c.CreateOutboundTrunk(ctx, "carrier", "sip.carrier.test", []string{"+15550000001"})
	if err != nil {
		t.Fatal(err)
	}
	sip.SetPhone("+15551000001", testlivekit.Phone{Answer: testlivekit.Answers})
	sip.SetPhone("+15551000002", testlivekit.Phone{Answer: testlivekit.Busy})
	sip.SetPhone("+15551000003", testlivekit.Phone{Answer: testlivekit.NoAnswer})
	sip.SetPhone("+15551000004", testlivekit.Phone{Answer: testlivekit.Answers, RingFor: 8 * time.Second})

	t.Run("dial answered", func(t *testing.T) {
		d, err := c.CreateSIPParticipant(ctx, lkapi.Dial{
			Trunk: trunk, Number: "+15551000001", Room: "dial-ok", Identity: "phone-1",
			Ringing: 5 * time.Second, MaxDuration: time.Minute, WaitUntilAnswered: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		if d.ParticipantIdentity != "phone-1" || d.SIPCallID == "" || d.ParticipantID == "" {
			t.Fatalf("dialled = %+v", d)
		}
		call := sip.WaitCall(t, "+15551000001", time.Second)
		if got := call.Request.RingingTimeout.AsDuration(); got != 5*time.Second {
			t.Errorf("ringing timeout sent = %v", got)
		}
		if got := call.Request.MaxCallDuration.AsDuration(); got != time.Minute {
			t.Errorf("max duration sent = %v", got)
		}
		ps, err := c.ListParticipants(ctx, "dial-ok")
		if err != nil || len(ps) != 1 || !lkapi.IsSIP(ps[0]) {
			t.Fatalf("participants = %v, %v; want the SIP phone", ps, err)
		}
		// Deleting the room hangs the phone up.
		if err := c.DeleteRoom(ctx, "dial-ok"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-call.Ended():
		case <-time.After(10 * time.Second):
			t.Fatal("phone still up after the room was deleted")
		}
		if err := c.DeleteRoom(ctx, "dial-ok"); err != nil {
			t.Fatalf("deleting a deleted room: %v", err)
		}
	})
	// livekit-server's own default gives each attempt at a SIP request 3 s
	// and retries one that timed out: a phone ringing longer than that
	// would be rung again while it rings. The server is configured
	// (deploy/livekit/livekit.yaml) so that it is rung once.
	t.Run("a phone that rings long is dialled once", func(t *testing.T) {
		d, err := c.CreateSIPParticipant(ctx, lkapi.Dial{
			Trunk: trunk, Number: "+15551000004", Room: "dial-slow", Identity: "phone-4",
			Ringing: 20 * time.Second, WaitUntilAnswered: true,
		})
		n := 0
		for _, call := range sip.Calls() {
			if call.To == "+15551000004" {
				n++
			}
		}
		if err != nil || n != 1 || d.ParticipantIdentity != "phone-4" {
			t.Fatalf("the phone was dialled %d times (%+v, %v); want once, answered", n, d, err)
		}
		if err := c.DeleteRoom(ctx, "dial-slow"); err != nil {
			t.Fatal(err)
		}
	})
	for _, tc := range []struct {
		number string
		code   int
		busy   bool
	}{{"+15551000002", 486, true}, {"+15551000003", 480, false}} {
		t.Run("dial fails "+tc.number, func(t *testing.T) {
			_, err := c.CreateSIPParticipant(ctx, lkapi.Dial{
				Trunk: trunk, Number: tc.number, Room: "dial-fail", Identity: "phone",
				Ringing: time.Second, WaitUntilAnswered: true,
			})
			var f *lkapi.CallFailed
			if !errors.As(err, &f) || f.Code != tc.code || f.Busy() != tc.busy || f.NoAnswer() == tc.busy {
				t.Fatalf("err = %v, want CallFailed %d", err, tc.code)
			}
		})
	}
	t.Run("remove participant", func(t *testing.T) {
		tok, err := c.JoinToken("widget", "visitor", "Visitor", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		p, err := testlivekit.JoinParticipant(ctx, srv.URL, tok, testlivekit.JoinOptions{})
		if err != nil {
			t.Fatalf("join with a widget token: %v", err)
		}
		defer p.Leave()
		if err := c.RemoveParticipant(ctx, "widget", "visitor"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-p.Disconnected():
		case <-time.After(10 * time.Second):
			t.Fatal("participant not removed")
		}
		if err := c.RemoveParticipant(ctx, "widget", "visitor"); err != nil {
			t.Fatalf("removing a removed participant: %v", err)
		}
	})
	t.Run("webhook", func(t *testing.T) {
		r := h.find(t, lkapi.EventParticipantJoined, "widget")
		ev, err := c.VerifyWebhook(r.body, r.auth)
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
		if ev.Event != lkapi.EventParticipantJoined || ev.Room.GetName() != "widget" || ev.Participant.GetIdentity() != "visitor" {
			t.Fatalf("event = %v", ev)
		}
		if ev.Participant.Kind != livekit.ParticipantInfo_STANDARD {
			t.Errorf("kind = %v", ev.Participant.Kind)
		}
		tampered := []byte(strings.Replace(string(r.body), "visitor", "intruder", 1))
		if _, err := c.VerifyWebhook(tampered, r.auth); err == nil {
			t.Error("a tampered body verified")
		}
		if _, err := lkapi.VerifyWebhook(srv.Key, strings.Repeat("x", 40), r.body, r.auth); err == nil {
			t.Error("verified with the wrong secret")
		}
		if _, err := c.VerifyWebhook(r.body, ""); err == nil {
			t.Error("verified without a signature")
		}
	})
	t.Run("inbound dispatch", func(t *testing.T) {
		in, err := c.CreateInboundTrunk(ctx, "numbers", []string{"+15557770000"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateDispatchRule(ctx, lkapi.DispatchRule{Name: "each", Trunks: []string{in}, RoomPrefix: "in"}); err != nil {
			t.Fatal(err)
		}
		call, err := sip.Dial(ctx, "+15558880000", "+15557770000", testlivekit.Phone{})
		if err != nil {
			t.Fatal(err)
		}
		r := h.find(t, lkapi.EventParticipantJoined, call.Room)
		ev, err := c.VerifyWebhook(r.body, r.auth)
		if err != nil {
			t.Fatal(err)
		}
		if !lkapi.IsSIP(ev.Participant) || ev.Participant.Attributes[livekit.AttrSIPCallID] != call.SIPCallID {
			t.Fatalf("participant = %v, want the SIP caller", ev.Participant)
		}
	})
	if _, err := c.CreateDispatchRule(ctx, lkapi.DispatchRule{Name: "nothing"}); err == nil {
		t.Error("a dispatch rule without a room was created")
	}
}
