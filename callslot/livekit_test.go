package callslot

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/internal/testlivekit"
	"github.com/voxplatform/vox/lkapi"
	"github.com/voxplatform/vox/runtimeapi"
)

// lkFixture is a real livekit-server with the SIP stand-in on its bus, and
// a webhook receiver that forwards every webhook to the worker under test
// as LiveKit would call its /livekit/dispatch.
type lkFixture struct {
	srv *testlivekit.Server
	sip *testlivekit.SIP
	api *lkapi.Client
	cfg lkapi.Config

	worker atomic.Pointer[harness] // where webhooks go

	mu       sync.Mutex     // guards dispatch
	dispatch map[string]int // room → status the worker answered a SIP participant_joined with
}

func newLKFixture(t *testing.T) *lkFixture {
	t.Helper()
	f := &lkFixture{dispatch: map[string]int{}}
	hs := httptest.NewServer(http.HandlerFunc(f.webhook))
	t.Cleanup(hs.Close)
	f.srv = testlivekit.Start(t, testlivekit.Options{WebhookURLs: []string{hs.URL}})
	f.sip = f.srv.StartSIP(t)
	f.cfg = lkapi.Config{URL: f.srv.URL, Key: f.srv.Key, Secret: f.srv.Secret}
	api, err := lkapi.New(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.api = api
	return f
}

func (f *lkFixture) webhook(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h := f.worker.Load()
	if h == nil {
		return
	}
	ev, err := lkapi.VerifyWebhook(f.cfg.Key, f.cfg.Secret, body, r.Header.Get("Authorization"))
	if err != nil {
		return
	}
	resp, err := h.client().Dispatch(r.Context(), body, r.Header.Get("Authorization"))
	if lkapi.IsSIP(ev.GetParticipant()) && ev.GetEvent() == lkapi.EventParticipantJoined {
		status := http.StatusAccepted
		if err != nil {
			status = fleetapi.StatusOf(err)
		} else if resp.Status != fleetapi.CallAccepted {
			status = http.StatusOK
		}
		f.mu.Lock()
		f.dispatch[ev.GetRoom().GetName()] = status
		f.mu.Unlock()
	}
}

func (f *lkFixture) dispatched(t *testing.T, room string) int {
	t.Helper()
	var status int
	waitFor(t, 15*time.Second, "dispatch of "+room, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		status = f.dispatch[room]
		return status != 0
	})
	return status
}

// startWorker starts a worker carrying calls through the fixture's LiveKit;
// webhooks go to it from now on.
func (f *lkFixture) startWorker(t *testing.T, recs *records, trunk string) *harness {
	t.Helper()
	lk, err := NewLiveKit(LiveKitConfig{LiveKit: f.cfg, Trunk: trunk, RingTimeout: 5 * time.Second}, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	h := startWorker(t, func(c *Config) { c.Rooms, c.Recorder = lk, recs })
	f.worker.Store(h)
	return h
}

func (f *lkFixture) caller(t *testing.T, room, identity string, kind livekit.ParticipantInfo_Kind) *testlivekit.Participant {
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

func (f *lkFixture) roomGone(t *testing.T, room string) {
	t.Helper()
	waitFor(t, 10*time.Second, "room "+room+" deleted", func() bool {
		ok, err := f.api.RoomExists(context.Background(), room)
		return err == nil && !ok
	})
}

// loudAfter is how many ms of sound p heard after sample index from.
func loudAfter(p *testlivekit.Participant, from int) int {
	h := p.Heard()
	if from > len(h) {
		return 0
	}
	return testlivekit.LoudMillis(h[from:])
}

// hearsGreetingAndEcho checks that p hears the scripted greeting, then its
// own speech echoed by the agent.
func hearsGreetingAndEcho(t *testing.T, p *testlivekit.Participant, speech []int16) {
	t.Helper()
	chime := testlivekit.LoudMillis(agent.Chime())
	waitFor(t, 15*time.Second, "the greeting", func() bool { return loudAfter(p, 0) >= chime/2 })
	time.Sleep(300 * time.Millisecond) // the greeting's tail
	mark := p.HeardLen()
	if err := p.Play(speech); err != nil {
		t.Fatal(err)
	}
	spoken := testlivekit.LoudMillis(speech)
	waitFor(t, 15*time.Second, "the echo", func() bool { return loudAfter(p, mark) >= spoken/2 })
}

// TestLiveKitCalls carries calls through a real livekit-server: an attached
// call, an inbound call dispatched by LiveKit's webhook (refused with its
// room deleted while the worker is busy), and dial-outs through the SIP
// stand-in, answered and busy.
func TestLiveKitCalls(t *testing.T) {
	f := newLKFixture(t)
	ctx := context.Background()
	speech := testlivekit.Speech(t, "Hello, I would like to book a table for two tonight.")
	trunk, err := f.api.CreateOutboundTrunk(ctx, "carrier", "sip.carrier.test", []string{"+15550000001"})
	if err != nil {
		t.Fatal(err)
	}
	inTrunk, err := f.api.CreateInboundTrunk(ctx, "numbers", []string{"+15557770000"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.api.CreateDispatchRule(ctx, lkapi.DispatchRule{Name: "each", Trunks: []string{inTrunk}, RoomPrefix: "in"}); err != nil {
		t.Fatal(err)
	}
	recs := &records{}
	h := f.startWorker(t, recs, trunk)

	t.Run("attach: the callee hears the greeting and the echo", func(t *testing.T) {
		p := f.caller(t, "att-1", "callee", livekit.ParticipantInfo_SIP)
		r, err := h.client().Attach(ctx, fleetapi.AttachRequest{CallID: "att-1", Room: "att-1", Participant: "callee"})
		if err != nil || r.Status != fleetapi.CallAccepted {
			t.Fatalf("attach: %+v %v", r, err)
		}
		hearsGreetingAndEcho(t, p, speech)
		p.Leave()
		rec := recs.wait(t, "att-1")
		if rec.Cause != CauseCallerHangup || rec.Status() != runtimeapi.CallCompleted || rec.Carrier != runtimeapi.CarrierSIP {
			t.Fatalf("record %+v", rec)
		}
		f.roomGone(t, "att-1")
		h.waitState(fleetapi.WorkerIdle)
	})

	t.Run("dispatch: busy refuses and deletes the room, free takes the call", func(t *testing.T) {
		busy := h.call(ctxFor(t, 30*time.Second)) // a Twilio call holds the slot
		// The room may be deleted before the phone has finished joining.
		_, _ = f.sip.Dial(ctx, "+15558880001", "+15557770000", testlivekit.Phone{})
		var refused *testlivekit.Call
		for _, c := range f.sip.Calls() {
			if c.From == "+15558880001" {
				refused = c
			}
		}
		if refused == nil {
			t.Fatal("the inbound call was not placed")
		}
		if code := f.dispatched(t, refused.Room); code != http.StatusTooManyRequests {
			t.Fatalf("dispatch to a busy worker: %d; want 429", code)
		}
		f.roomGone(t, refused.Room)
		select {
		case <-refused.Ended():
		case <-time.After(10 * time.Second):
			t.Fatal("the refused caller was left in the call")
		}
		if err := busy.Stop(); err != nil {
			t.Fatal(err)
		}
		h.waitState(fleetapi.WorkerIdle)

		call, err := f.sip.Dial(ctx, "+15558880002", "+15557770000", testlivekit.Phone{})
		if err != nil {
			t.Fatal(err)
		}
		if code := f.dispatched(t, call.Room); code != http.StatusAccepted {
			t.Fatalf("dispatch to a free worker: %d; want 202", code)
		}
		select {
		case <-call.Answered():
		case <-time.After(10 * time.Second):
			t.Fatal("the inbound call was not answered (the agent must publish at once)")
		}
		hearsGreetingAndEcho(t, call.Phone(), speech)
		call.Hangup()
		rec := recs.wait(t, call.SIPCallID)
		if rec.Cause != CauseCallerHangup || rec.Direction != runtimeapi.Inbound || rec.To != "+15557770000" || rec.Room != call.Room {
			t.Fatalf("record %+v", rec)
		}
		h.waitState(fleetapi.WorkerIdle)
	})

	t.Run("dialout: answered, then busy with its SIP status", func(t *testing.T) {
		f.sip.SetPhone("+15551000001", testlivekit.Phone{Answer: testlivekit.Answers})
		f.sip.SetPhone("+15551000002", testlivekit.Phone{Answer: testlivekit.Busy})
		r, err := h.client().Dialout(ctx, fleetapi.DialoutRequest{CallID: "out-1", To: "+15551000001"})
		if err != nil || r.Status != fleetapi.CallAccepted {
			t.Fatalf("dialout: %+v %v", r, err)
		}
		call := f.sip.WaitCall(t, "+15551000001", 10*time.Second)
		<-call.Answered()
		var phone *testlivekit.Participant
		waitFor(t, 10*time.Second, "the phone in the room", func() bool { phone = call.Phone(); return phone != nil })
		hearsGreetingAndEcho(t, phone, speech)
		call.Hangup()
		rec := recs.wait(t, "out-1")
		if rec.Cause != CauseCallerHangup || rec.Code != 200 || rec.Status() != runtimeapi.CallCompleted {
			t.Fatalf("record %+v", rec)
		}
		h.waitState(fleetapi.WorkerIdle)

		if _, err := h.client().Dialout(ctx, fleetapi.DialoutRequest{CallID: "out-2", To: "+15551000002"}); err != nil {
			t.Fatal(err)
		}
		rec = recs.wait(t, "out-2")
		rt := rec.Runtime("")
		if rec.Cause != CauseBusy || rt.Status != runtimeapi.CallBusy || rt.SIPStatus != 486 {
			t.Fatalf("record %+v; runtime %+v", rec, rt)
		}
		h.waitState(fleetapi.WorkerIdle)
	})

	t.Run("widget: a browser caller joins later; one who never comes ends the call", func(t *testing.T) {
		r, err := h.client().Widget(ctx, fleetapi.WidgetRequest{CallID: "web-1", Room: "web-1", Identity: "browser"})
		if err != nil || r.Status != fleetapi.CallAccepted {
			t.Fatalf("widget: %+v %v", r, err)
		}
		time.Sleep(500 * time.Millisecond) // the agent waits in the room
		p := f.caller(t, "web-1", "browser", livekit.ParticipantInfo_STANDARD)
		hearsGreetingAndEcho(t, p, speech)
		p.Leave()
		rec := recs.wait(t, "web-1")
		if rec.Cause != CauseCallerHangup || rec.Carrier != runtimeapi.CarrierWidget || rec.Status() != runtimeapi.CallCompleted {
			t.Fatalf("record %+v", rec)
		}
		h.waitState(fleetapi.WorkerIdle)

		if _, err := h.client().Widget(ctx, fleetapi.WidgetRequest{CallID: "web-2", Room: "web-2", WaitTimeoutS: 1}); err != nil {
			t.Fatal(err)
		}
		rec = recs.wait(t, "web-2")
		if rec.Cause != CauseNoCaller || !rec.Answered.IsZero() || rec.Status() != runtimeapi.CallFailed {
			t.Fatalf("record %+v", rec)
		}
		f.roomGone(t, "web-2")
		h.waitState(fleetapi.WorkerIdle)
	})

	t.Run("dispatch with a forged signature is refused", func(t *testing.T) {
		body := []byte(`{"event":"participant_joined","room":{"name":"r"},"participant":{"identity":"sip_1","kind":"SIP"}}`)
		_, err := h.client().Dispatch(ctx, body, "Bearer forged")
		if fleetapi.StatusOf(err) != http.StatusUnauthorized {
			t.Fatalf("forged dispatch: %v; want 401", err)
		}
	})
}
