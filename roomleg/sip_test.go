package roomleg_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/internal/testlivekit"
	"github.com/voxplatform/vox/lkapi"
	"github.com/voxplatform/vox/roomleg"
)

// TestSIPCalls runs the leg against SIP calls through the server's real SIP
// API and the SIP stand-in: an outbound call (the leg publishes first, the
// phone rings, answers and speaks) and an inbound call dispatched by the
// server's rule (the phone answers only once the agent's track is in the
// room). Each phone hears the greeting and its words echoed.
func TestSIPCalls(t *testing.T) {
	f := newFixture(t)
	sip := f.srv.StartSIP(t)
	ctx := context.Background()
	speech := testlivekit.Speech(t, "Yes, this is Anna speaking. I can talk now.")
	spoken := testlivekit.LoudMillis(speech)
	phone := testlivekit.Phone{Answer: testlivekit.Answers, RingFor: 500 * time.Millisecond, Say: speech, SayAfter: 2 * time.Second, HangupAfter: 9 * time.Second}

	// checkHeard: greeting in the first 2 s, the echo after the phone spoke.
	checkHeard := func(t *testing.T, p *testlivekit.Participant) {
		t.Helper()
		h := p.Heard()
		cut := min(len(h), 2*testlivekit.Rate)
		if g := testlivekit.LoudMillis(h[:cut]); g < testlivekit.LoudMillis(agent.Chime())*7/10 {
			t.Errorf("phone heard %d ms of greeting", g)
		}
		if e := testlivekit.LoudMillis(h[cut:]); e < spoken*6/10 {
			t.Errorf("phone heard %d ms after the greeting, want the echo of %d ms", e, spoken)
		}
	}

	t.Run("outbound", func(t *testing.T) {
		defer goleak.VerifyNone(t, leakOpts...)
		trunk, err := f.api.CreateOutboundTrunk(ctx, "carrier", "sip.carrier.test", []string{"+15550000001"})
		if err != nil {
			t.Fatal(err)
		}
		sip.SetPhone("+15554440000", phone)
		cfg := f.legConfig("dial")
		cfg.Caller, cfg.DeleteRoom = "phone", true
		leg, err := roomleg.Join(ctx, cfg, f.log)
		if err != nil {
			t.Fatal(err)
		}
		done := run(ctx, leg)
		if _, err := f.api.CreateSIPParticipant(ctx, lkapi.Dial{
			Trunk: trunk, Number: "+15554440000", Room: "dial", Identity: "phone",
			Ringing: 10 * time.Second, WaitUntilAnswered: true,
		}); err != nil {
			t.Fatalf("dial: %v; the leg: %+v", err, result(t, done))
		}
		call := sip.WaitCall(t, "+15554440000", time.Second)
		res := result(t, done)
		if res.Cause != roomleg.CauseCallerLeft || res.Caller != "phone" {
			t.Fatalf("result = %+v, want caller_left", res)
		}
		if res.CallerJoined.Before(res.Joined) || res.FirstAudio.Before(res.CallerJoined) {
			t.Errorf("greeting before the answer: %+v", res)
		}
		checkHeard(t, call.Phone())
		if ok, err := f.api.RoomExists(ctx, "dial"); err != nil || ok {
			t.Errorf("room left behind: %v %v", ok, err)
		}
	})

	t.Run("inbound", func(t *testing.T) {
		defer goleak.VerifyNone(t, leakOpts...)
		in, err := f.api.CreateInboundTrunk(ctx, "numbers", []string{"+15556660000"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.api.CreateDispatchRule(ctx, lkapi.DispatchRule{Trunks: []string{in}, RoomPrefix: "in"}); err != nil {
			t.Fatal(err)
		}
		call, err := sip.Dial(ctx, "+15557770000", "+15556660000", phone)
		if err != nil {
			t.Fatal(err)
		}
		cfg := f.legConfig(call.Room)
		cfg.DeleteRoom = true
		leg, err := roomleg.Join(ctx, cfg, f.log)
		if err != nil {
			t.Fatal(err)
		}
		res := result(t, run(ctx, leg))
		if res.Cause != roomleg.CauseCallerLeft || res.Caller != call.Identity {
			t.Fatalf("result = %+v, want caller_left by %s", res, call.Identity)
		}
		checkHeard(t, call.Phone())
	})
}
