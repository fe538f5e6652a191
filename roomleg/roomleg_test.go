package roomleg_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"go.uber.org/goleak"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/internal/testlivekit"
	"github.com/voxplatform/vox/lkapi"
	"github.com/voxplatform/vox/roomleg"
)

// leakOpts ignores the HTTP keep-alive connections of the API client, which
// belong to the process, not to a leg, and the Redis bus of the SIP
// stand-in, whose goroutines psrpc never stops.
var leakOpts = []goleak.Option{
	goleak.IgnoreAnyFunction("github.com/livekit/psrpc/internal/bus.(*redisPublishQueue).worker"),
	goleak.IgnoreAnyFunction("github.com/livekit/psrpc/internal/bus.(*redisSubscription).read"),
	goleak.IgnoreAnyFunction("github.com/livekit/psrpc/internal/bus.(*redisMessageBus).readWorker"),
	goleak.IgnoreAnyFunction("github.com/livekit/psrpc/internal/bus.(*redisMessageBus).writeWorker"),
	goleak.IgnoreAnyFunction("github.com/livekit/psrpc/internal/bus.(*redisWriteOpQueue).drain"),
	goleak.IgnoreAnyFunction("github.com/livekit/psrpc/pkg/client.NewRPCClient.func1"),
	goleak.IgnoreAnyFunction("github.com/livekit/psrpc/pkg/server.(*rpcHandlerImpl[...]).run.func1"),
	goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
	goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	goleak.IgnoreAnyFunction("github.com/livekit/protocol/logger.(*deferredLogger).flush"),
}

type fixture struct {
	srv *testlivekit.Server
	cfg lkapi.Config
	api *lkapi.Client
	log *slog.Logger
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := testlivekit.Start(t, testlivekit.Options{})
	cfg := lkapi.Config{URL: srv.URL, Key: srv.Key, Secret: srv.Secret}
	api, err := lkapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, cfg: cfg, api: api,
		log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
}

func (f *fixture) legConfig(room string) roomleg.Config {
	return roomleg.Config{LiveKit: f.cfg, Room: room, Identity: "agent-" + room, CallerTimeout: 20 * time.Second}
}

func (f *fixture) caller(t *testing.T, room, identity string, kind livekit.ParticipantInfo_Kind) *testlivekit.Participant {
	t.Helper()
	tok, err := f.srv.Token(room, identity, kind)
	if err != nil {
		t.Fatal(err)
	}
	p, err := testlivekit.JoinParticipant(context.Background(), f.srv.URL, tok, testlivekit.JoinOptions{})
	if err != nil {
		t.Fatalf("caller join: %v", err)
	}
	t.Cleanup(p.Leave)
	return p
}

// run starts the leg's Run with the scripted agent and returns its result.
func run(ctx context.Context, leg *roomleg.Leg) <-chan roomleg.Result {
	out := make(chan roomleg.Result, 1)
	go func() {
		res, err := leg.Run(ctx, agent.Scripted{}, agent.Call{ID: "call-1"})
		if err != nil {
			res.Reason = "run error: " + err.Error()
		}
		out <- res
	}()
	return out
}

// waitFor polls ok until d passes; on failure it says what the caller p
// heard (nothing at all: no subscription; silence: no agent audio).
func waitFor(t *testing.T, d time.Duration, what string, ok func() bool, p *testlivekit.Participant) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: the caller heard %d samples, %d ms of sound",
				d, what, p.HeardLen(), testlivekit.LoudMillis(p.Heard()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func result(t *testing.T, ch <-chan roomleg.Result) roomleg.Result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("leg did not end")
	}
	return roomleg.Result{}
}

// loudAfter is how many ms of sound p heard after sample index from.
func loudAfter(p *testlivekit.Participant, from int) int {
	h := p.Heard()
	if from > len(h) {
		return 0
	}
	return testlivekit.LoudMillis(h[from:])
}

// TestCallerHearsGreetingAndEcho: a browser-like caller joins after the
// agent, hears the chime greeting, speaks real speech, hears it echoed,
// and leaves; the leg ends with CauseCallerLeft and leaves nothing running.
func TestCallerHearsGreetingAndEcho(t *testing.T) {
	f := newFixture(t)
	defer goleak.VerifyNone(t, leakOpts...)
	speech := testlivekit.Speech(t, "Hello, I would like to book a table for two tonight.")
	ctx := context.Background()
	leg, err := roomleg.Join(ctx, f.legConfig("echo"), f.log)
	if err != nil {
		t.Fatal(err)
	}
	done := run(ctx, leg)
	p := f.caller(t, "echo", "caller", livekit.ParticipantInfo_STANDARD)

	chime := testlivekit.LoudMillis(agent.Chime())
	waitFor(t, 20*time.Second, "the greeting", func() bool { return loudAfter(p, 0) >= chime*8/10 }, p)
	time.Sleep(300 * time.Millisecond) // the greeting's tail
	mark := p.HeardLen()
	if err := p.Play(speech); err != nil {
		t.Fatal(err)
	}
	spoken := testlivekit.LoudMillis(speech)
	waitFor(t, 15*time.Second, "the echo", func() bool { return loudAfter(p, mark) >= spoken*7/10 }, p)

	p.Leave()
	res := result(t, done)
	if res.Cause != roomleg.CauseCallerLeft || res.Caller != "caller" {
		t.Fatalf("result = %+v, want caller_left by caller", res)
	}
	if res.Heard < int64(len(speech))/2 || res.Played < int64(len(agent.Chime())+len(speech)/2) {
		t.Fatalf("heard %d played %d samples: too little", res.Heard, res.Played)
	}
	if res.Decoded == 0 || res.Arrived < res.Decoded || res.CallerPackets < res.Arrived {
		t.Fatalf("caller packets: sent %d arrived %d decoded %d", res.CallerPackets, res.Arrived, res.Decoded)
	}
	if res.FirstAudio.Before(res.CallerJoined) {
		t.Fatalf("first audio %v before the caller joined %v", res.FirstAudio, res.CallerJoined)
	}
}

// TestInboundCallerAlreadyInRoom: a SIP caller waiting in the room before
// the agent joins (inbound dispatch) is found and greeted; the agent's
// hangup ('#') ends the leg and deletes the room, hanging up the phone.
func TestHangupDeletesRoom(t *testing.T) {
	f := newFixture(t)
	defer goleak.VerifyNone(t, leakOpts...)
	ctx := context.Background()
	p := f.caller(t, "inbound", "sip_+15550001111", livekit.ParticipantInfo_SIP)
	cfg := f.legConfig("inbound")
	cfg.DeleteRoom = true
	leg, err := roomleg.Join(ctx, cfg, f.log)
	if err != nil {
		t.Fatal(err)
	}
	done := run(ctx, leg)
	waitFor(t, 20*time.Second, "the greeting", func() bool { return loudAfter(p, 0) >= 300 }, p)
	if err := p.DTMF("#"); err != nil {
		t.Fatal(err)
	}
	res := result(t, done)
	if res.Cause != roomleg.CauseHangup || res.Caller != "sip_+15550001111" {
		t.Fatalf("result = %+v, want agent_hangup with the SIP caller", res)
	}
	select {
	case <-p.Disconnected():
	case <-time.After(10 * time.Second):
		t.Fatal("the phone was not hung up")
	}
	if ok, err := f.api.RoomExists(ctx, "inbound"); err != nil || ok {
		t.Fatalf("room exists = %v, %v after hangup", ok, err)
	}
}

func TestEndCauses(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name  string
		setup func(*roomleg.Config)
		act   func(ctx context.Context, cancel context.CancelFunc, room string)
		want  roomleg.Cause
	}{
		{"room deleted", nil, func(ctx context.Context, _ context.CancelFunc, room string) {
			if err := f.api.DeleteRoom(ctx, room); err != nil {
				t.Error(err)
			}
		}, roomleg.CauseRoomDeleted},
		{"max duration", func(c *roomleg.Config) { c.MaxDuration = 1500 * time.Millisecond }, nil, roomleg.CauseMaxDuration},
		{"canceled", nil, func(_ context.Context, cancel context.CancelFunc, _ string) { cancel() }, roomleg.CauseCanceled},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, leakOpts...)
			room := fmt.Sprintf("end-%d", i)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cfg := f.legConfig(room)
			if tc.setup != nil {
				tc.setup(&cfg)
			}
			leg, err := roomleg.Join(ctx, cfg, f.log)
			if err != nil {
				t.Fatal(err)
			}
			done := run(ctx, leg)
			p := f.caller(t, room, "caller", livekit.ParticipantInfo_STANDARD)
			waitFor(t, 20*time.Second, "the greeting", func() bool { return loudAfter(p, 0) >= 300 }, p)
			if tc.act != nil {
				tc.act(context.Background(), cancel, room)
			}
			res := result(t, done)
			if res.Cause != tc.want {
				t.Fatalf("cause = %q (%s), want %q", res.Cause, res.Reason, tc.want)
			}
			p.Leave()
		})
	}
}

func TestNoCaller(t *testing.T) {
	f := newFixture(t)
	defer goleak.VerifyNone(t, leakOpts...)
	cfg := f.legConfig("empty")
	cfg.CallerTimeout = 500 * time.Millisecond
	cfg.DeleteRoom = true
	leg, err := roomleg.Join(context.Background(), cfg, f.log)
	if err != nil {
		t.Fatal(err)
	}
	res := result(t, run(context.Background(), leg))
	if res.Cause != roomleg.CauseNoCaller || !res.CallerJoined.IsZero() || res.Played != 0 {
		t.Fatalf("result = %+v, want no_caller and nothing played", res)
	}
	if ok, err := f.api.RoomExists(context.Background(), "empty"); err != nil || ok {
		t.Fatalf("room exists = %v, %v", ok, err)
	}
}
