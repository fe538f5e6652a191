package testlivekit

import (
	"context"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"google.golang.org/protobuf/types/known/durationpb"
)

// TestSIPStandIn drives the stand-in through the server's real SIP API:
// an answered outbound call puts a SIP participant in the room that plays
// its audio; a busy phone fails with 486; an inbound call lands in the room
// the server's dispatch rule names.
func TestSIPStandIn(t *testing.T) {
	s := Start(t, Options{})
	sip := s.StartSIP(t)
	ctx := context.Background()
	api := lksdk.NewSIPClient(s.HTTPURL, s.Key, s.Secret)
	trunk, err := api.CreateSIPOutboundTrunk(ctx, &livekit.CreateSIPOutboundTrunkRequest{Trunk: &livekit.SIPOutboundTrunkInfo{
		Name: "out", Address: "sip.carrier.test", Numbers: []string{"+15550000001"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	tone := make([]int16, Rate) // 1 s of a loud square wave
	for i := range tone {
		tone[i] = 8000
		if i/20%2 == 0 {
			tone[i] = -8000
		}
	}
	sip.SetPhone("+15551110000", Phone{Answer: Answers, Say: tone})
	sip.SetPhone("+15552220000", Phone{Answer: Busy})

	t.Run("answered", func(t *testing.T) {
		listener := joinListener(t, s, "out-ok")
		info, err := api.CreateSIPParticipant(ctx, &livekit.CreateSIPParticipantRequest{
			SipTrunkId: trunk.SipTrunkId, SipCallTo: "+15551110000", RoomName: "out-ok",
			ParticipantIdentity: "phone", WaitUntilAnswered: true, RingingTimeout: durationpb.New(5 * time.Second),
		})
		if err != nil {
			t.Fatalf("create sip participant: %v\n%s", err, s.Log())
		}
		if info.ParticipantIdentity != "phone" || info.SipCallId == "" {
			t.Fatalf("info = %v", info)
		}
		c := sip.WaitCall(t, "+15551110000", time.Second)
		if c.Status() != 200 || c.Request.RoomName != "out-ok" {
			t.Fatalf("call status %d room %q", c.Status(), c.Request.RoomName)
		}
		deadline := time.Now().Add(10 * time.Second)
		for LoudMillis(listener.Heard()) < 500 {
			if time.Now().After(deadline) {
				t.Fatal("the room never heard the phone")
			}
			time.Sleep(20 * time.Millisecond)
		}
		rp := listener.Room.GetParticipantByIdentity("phone")
		if rp == nil || rp.Kind() != lksdk.ParticipantSIP {
			t.Fatalf("phone participant = %v", rp)
		}
	})
	t.Run("busy", func(t *testing.T) {
		_, err := api.CreateSIPParticipant(ctx, &livekit.CreateSIPParticipantRequest{
			SipTrunkId: trunk.SipTrunkId, SipCallTo: "+15552220000", RoomName: "out-busy",
			ParticipantIdentity: "phone", WaitUntilAnswered: true,
		})
		if st := lksdk.SIPStatusFrom(err); st == nil || st.Code != livekit.SIPStatusCode_SIP_STATUS_BUSY_HERE {
			t.Fatalf("err = %v, want SIP status 486", err)
		}
	})
	t.Run("inbound", func(t *testing.T) {
		in, err := api.CreateSIPInboundTrunk(ctx, &livekit.CreateSIPInboundTrunkRequest{Trunk: &livekit.SIPInboundTrunkInfo{
			Name: "in", Numbers: []string{"+15553330000"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := api.CreateSIPDispatchRule(ctx, &livekit.CreateSIPDispatchRuleRequest{DispatchRule: &livekit.SIPDispatchRuleInfo{
			TrunkIds: []string{in.SipTrunkId},
			Rule: &livekit.SIPDispatchRule{Rule: &livekit.SIPDispatchRule_DispatchRuleIndividual{
				DispatchRuleIndividual: &livekit.SIPDispatchRuleIndividual{RoomPrefix: "call"},
			}},
		}}); err != nil {
			t.Fatal(err)
		}
		c, err := sip.Dial(ctx, "+15559990000", "+15553330000", Phone{Say: tone})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Room) < 5 || c.Room[:5] != "call_" {
			t.Fatalf("room %q, want one from the dispatch rule's prefix", c.Room)
		}
		select {
		case <-c.Answered():
			t.Fatal("answered before anyone published in the room")
		case <-time.After(300 * time.Millisecond):
		}
		joinListener(t, s, c.Room) // publishes a track: the phone answers
		select {
		case <-c.Answered():
		case <-time.After(10 * time.Second):
			t.Fatal("inbound call not answered once the room had a track")
		}
	})
}

func joinListener(t *testing.T, s *Server, room string) *Participant {
	t.Helper()
	tok, err := s.Token(room, "listener-"+room, livekit.ParticipantInfo_STANDARD)
	if err != nil {
		t.Fatal(err)
	}
	p, err := JoinParticipant(context.Background(), s.URL, tok, JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Leave)
	return p
}
