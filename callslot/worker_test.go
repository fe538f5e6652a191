package callslot

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/lifeline"
	"github.com/voxplatform/vox/svcauth"
	"github.com/voxplatform/vox/twilio"
)

func TestHealth(t *testing.T) {
	h := startWorker(t, nil)
	got := h.health()
	want := fleetapi.Health{State: fleetapi.WorkerIdle, PID: os.Getpid(), Index: 3, Version: "test-1"}
	if got != want {
		t.Fatalf("health = %+v; want %+v", got, want)
	}
	ready := h.waitEvent(lifeline.KindReady, "")
	if ready.PID != os.Getpid() || ready.Version != "test-1" {
		t.Fatalf("ready event = %+v", ready)
	}
}

// A caller hears the greeting, hears itself back after a pause, and ends the
// call with #; the slot is free again and the lifeline saw it all.
func TestTwilioCallGreetsEchoesAndHangsUp(t *testing.T) {
	h := startWorker(t, nil)
	ctx := ctxFor(t, 30*time.Second)
	c := h.call(ctx)

	if hl := h.health(); hl.State != fleetapi.WorkerBusy || hl.CallID != c.CallSID() {
		t.Fatalf("health during call = %+v", hl)
	}
	if _, err := c.Wait(ctx, heard(agent.MarkGreeting)); err != nil {
		t.Fatalf("greeting: %v", err)
	}
	greeting := c.Stats().VoicedBytes

	// Speak, then pause; the agent plays the speech back.
	speech := twilio.Tone(400*time.Millisecond, 300, 8000)
	if err := c.SendAudio(ctx, speech, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.SendAudio(ctx, twilio.Silence(700*time.Millisecond), 0); err != nil {
		t.Fatal(err)
	}
	s, err := c.Wait(ctx, heard(agent.MarkEchoPrefix+"1"))
	if err != nil {
		t.Fatalf("echo: %v", err)
	}
	if echoed := s.VoicedBytes - greeting; echoed < len(speech)/2 {
		t.Fatalf("echo carried %d voiced bytes; want about %d", echoed, len(speech))
	}

	if err := c.SendDTMF("#"); err != nil {
		t.Fatal(err)
	}
	s, err = c.Wait(ctx, closed)
	if err != nil {
		t.Fatal(err)
	}
	if s.CloseCode != websocket.CloseNormalClosure {
		t.Fatalf("close code %d (%s); want normal closure", s.CloseCode, s.CloseText)
	}
	h.waitState(fleetapi.WorkerIdle)
	end := h.waitEvent(lifeline.KindCallEnd, c.CallSID())
	if end.Outcome != lifeline.OutcomeCompleted || end.Calls != 1 || end.Seconds <= 0 {
		t.Fatalf("call_end = %+v", end)
	}
}

// While one call runs, a second stream and an /attach get 429 before any
// upgrade, and the first call keeps hearing the agent.
func TestSecondCallRefusedFirstUndisturbed(t *testing.T) {
	h := startWorker(t, func(c *Config) { c.Rooms = newHeldRooms() })
	ctx := ctxFor(t, 30*time.Second)
	first := h.call(ctx)
	if _, err := first.Wait(ctx, heard(agent.MarkGreeting)); err != nil {
		t.Fatal(err)
	}

	_, resp, err := h.dial(ctx)
	if err == nil || resp == nil {
		t.Fatalf("second stream admitted (err %v)", err)
	}
	if code, body := decodeResponse(t, resp); code != http.StatusTooManyRequests || body["error"] != "busy" {
		t.Fatalf("second stream: %d %v; want 429 busy", code, body)
	}
	code, body := h.post("/attach", token(t), []byte(`{"call_id":"other","room":"r1"}`))
	if code != http.StatusTooManyRequests || body["error"] != "busy" {
		t.Fatalf("attach while busy: %d %v; want 429 busy", code, body)
	}

	// The first call is still there, and still answered.
	if hl := h.health(); hl.State != fleetapi.WorkerBusy || hl.CallID != first.CallSID() {
		t.Fatalf("health = %+v", hl)
	}
	before := first.Stats().VoicedBytes
	if err := first.SendAudio(ctx, append(twilio.Tone(300*time.Millisecond, 300, 8000), twilio.Silence(700*time.Millisecond)...), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := first.Wait(ctx, func(s twilio.Stats) bool { return s.VoicedBytes > before && heard(agent.MarkEchoPrefix+"1")(s) }); err != nil {
		t.Fatalf("first call no longer answered: %v", err)
	}
	if first.Stats().Closed {
		t.Fatal("first call closed")
	}
}

// However a call ends, the slot is free again and call_end is reported.
func TestCallEnds(t *testing.T) {
	tests := []struct {
		name      string
		maxDur    time.Duration
		end       func(ctx context.Context, c *twilio.Client) error
		outcome   string
		closeCode int // 0: the client closed, no code expected
	}{
		{"stop event", 0, func(_ context.Context, c *twilio.Client) error { return c.Stop() }, lifeline.OutcomeCompleted, websocket.CloseNormalClosure},
		{"hash key", 0, func(_ context.Context, c *twilio.Client) error { return c.SendDTMF("#") }, lifeline.OutcomeCompleted, websocket.CloseNormalClosure},
		{"client vanishes", 0, func(_ context.Context, c *twilio.Client) error { return c.Close() }, lifeline.OutcomeFailed, 0},
		{"max call duration", 700 * time.Millisecond, func(ctx context.Context, c *twilio.Client) error {
			// Keep streaming like a carrier; the worker must end the call itself.
			_ = c.SendAudio(ctx, twilio.Silence(5*time.Second), twilio.RealTime)
			return nil
		}, lifeline.OutcomeCompleted, websocket.CloseNormalClosure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startWorker(t, func(c *Config) { c.MaxCallDuration = tt.maxDur })
			ctx := ctxFor(t, 30*time.Second)
			c := h.call(ctx)
			if err := tt.end(ctx, c); err != nil {
				t.Fatal(err)
			}
			h.waitState(fleetapi.WorkerIdle)
			end := h.waitEvent(lifeline.KindCallEnd, c.CallSID())
			if end.Outcome != tt.outcome {
				t.Fatalf("outcome = %q; want %q", end.Outcome, tt.outcome)
			}
			if tt.closeCode != 0 {
				s, err := c.Wait(ctx, closed)
				if err != nil {
					t.Fatal(err)
				}
				if s.CloseCode != tt.closeCode {
					t.Fatalf("close code %d (%s); want %d", s.CloseCode, s.CloseText, tt.closeCode)
				}
			}
			// The slot takes a new call.
			next := h.call(ctx)
			if _, err := next.Wait(ctx, heard(agent.MarkGreeting)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	h := startWorker(t, nil)
	ctx := ctxFor(t, 30*time.Second)
	sign := func(method jwt.SigningMethod, key any, aud string, exp time.Duration) string {
		tok, err := jwt.NewWithClaims(method, jwt.RegisteredClaims{
			Audience:  jwt.ClaimStrings{aud},
			ExpiresAt: jwt.NewNumericDate(time.Now().Add(exp)),
		}).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	wrongAud, err := svcauth.Sign(testSecret, svcauth.AudienceRuntime, "test", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// A token another fleet host received, and one scoped to no fleet.
	otherFleet, _ := svcauth.Sign(testSecret, svcauth.FleetAudience("other-fleet"), "test", time.Minute)
	unscoped, _ := svcauth.Sign(testSecret, svcauth.AudienceFleet, "test", time.Minute)
	tokens := []struct{ name, token string }{
		{"missing", ""},
		{"garbage", "not-a-token"},
		{"expired", sign(jwt.SigningMethodHS256, testSecret, svcauth.FleetAudience(testFleetID), -time.Minute)},
		{"wrong audience", wrongAud},
		{"another fleet's token", otherFleet},
		{"token scoped to no fleet", unscoped},
		{"wrong key", sign(jwt.SigningMethodHS256, []byte("another-secret-of-enough-length"), svcauth.FleetAudience(testFleetID), time.Minute)},
		{"alg none", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, svcauth.FleetAudience(testFleetID), time.Minute)},
	}
	for _, tt := range tokens {
		t.Run(tt.name, func(t *testing.T) {
			for _, via := range []string{"header", "query"} {
				cfg := twilio.ClientConfig{URL: "ws://worker/ws/twilio", SocketPath: h.sock}
				if via == "header" {
					cfg.Token = tt.token
				} else {
					cfg.URL += "?token=" + tt.token
				}
				_, resp, err := twilio.Dial(ctx, cfg)
				if err == nil || resp == nil {
					t.Fatalf("%s: stream admitted", via)
				}
				if code, body := decodeResponse(t, resp); code != http.StatusUnauthorized || body["error"] != "unauthorized" {
					t.Fatalf("%s: stream got %d %v; want 401", via, code, body)
				}
			}
			// /livekit/dispatch is LiveKit's webhook: its signature, not a
			// service token, authenticates it (see the LiveKit tests).
			for _, path := range []string{"/attach", "/livekit/dialout", "/livekit/widget"} {
				if code, body := h.post(path, tt.token, []byte(`{"call_id":"c1","room":"r1"}`)); code != http.StatusUnauthorized {
					t.Fatalf("%s: %d %v; want 401", path, code, body)
				}
			}
			if s, _ := h.w.State(); s != fleetapi.WorkerIdle {
				t.Fatalf("state %s after refused requests", s)
			}
		})
	}
	t.Run("valid via query", func(t *testing.T) {
		c, _, err := twilio.Dial(ctx, twilio.ClientConfig{URL: "ws://worker/ws/twilio?token=" + token(t), SocketPath: h.sock})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Wait(ctx, heard(agent.MarkGreeting)); err != nil {
			t.Fatal(err)
		}
	})
}

// heldRooms stands in for LiveKit media, which cannot carry SIP calls here:
// each attached call lasts until released.
type heldRooms struct {
	RoomMedia // only AttachLeg is used
	release   chan struct{}
	served    chan fleetapi.AttachRequest
}

func newHeldRooms() *heldRooms {
	return &heldRooms{release: make(chan struct{}), served: make(chan fleetapi.AttachRequest, 10)}
}

func (r *heldRooms) AttachLeg(req fleetapi.AttachRequest) (Leg, error) {
	return &heldLeg{rooms: r, req: req}, nil
}

// heldLeg answers at once, takes the agent's audio and ends when released.
type heldLeg struct {
	rooms *heldRooms
	req   fleetapi.AttachRequest
}

func (l *heldLeg) Run(ctx context.Context, in Inbound) End {
	if err := in.Answer(); err != nil {
		return End{}
	}
	l.rooms.served <- l.req
	select {
	case <-l.rooms.release:
		return End{Cause: CauseCallerHangup, Reason: "caller left"}
	case <-ctx.Done():
		return End{}
	}
}

func (l *heldLeg) Audio([]int16) error { return nil }
func (l *heldLeg) Mark(string) error   { return nil }
func (l *heldLeg) Clear() error        { return nil }
func (l *heldLeg) Close(End)           {}

func TestAttach(t *testing.T) {
	t.Run("livekit not configured", func(t *testing.T) {
		h := startWorker(t, nil)
		code, body := h.post("/attach", token(t), []byte(`{"call_id":"c1","room":"r1"}`))
		if code != http.StatusServiceUnavailable || body["error"] != "livekit not configured" {
			t.Fatalf("attach: %d %v; want 503", code, body)
		}
		if hl := h.health(); hl.State != fleetapi.WorkerIdle || hl.CallID != "" {
			t.Fatalf("slot taken: %+v", hl)
		}
	})
	t.Run("idempotent on call_id", func(t *testing.T) {
		rooms := newHeldRooms()
		h := startWorker(t, func(c *Config) { c.Rooms = rooms })
		body := []byte(`{"call_id":"c1","room":"r1","agent_id":"a1","metadata":{"k":"v"}}`)
		code, resp := h.post("/attach", token(t), body)
		if code != http.StatusAccepted || resp["status"] != "accepted" || resp["call_id"] != "c1" {
			t.Fatalf("first attach: %d %v", code, resp)
		}
		// nginx re-sends the same request: same call, answered 202 again.
		code, resp = h.post("/attach", token(t), body)
		if code != http.StatusAccepted || resp["status"] != "running" {
			t.Fatalf("repeated attach: %d %v", code, resp)
		}
		if code, resp = h.post("/attach", token(t), []byte(`{"call_id":"c2","room":"r2"}`)); code != http.StatusTooManyRequests {
			t.Fatalf("other call: %d %v; want 429", code, resp)
		}
		if req := <-rooms.served; req.CallID != "c1" || req.Room != "r1" || req.Metadata["k"] != "v" {
			t.Fatalf("served %+v", req)
		}
		select {
		case req := <-rooms.served:
			t.Fatalf("a second call was started: %+v", req)
		default:
		}
		if hl := h.health(); hl.State != fleetapi.WorkerBusy || hl.CallID != "c1" {
			t.Fatalf("health = %+v", hl)
		}
		close(rooms.release)
		h.waitState(fleetapi.WorkerIdle)
		if e := h.waitEvent(lifeline.KindCallEnd, "c1"); e.Outcome != lifeline.OutcomeCompleted {
			t.Fatalf("call_end = %+v", e)
		}
		h.waitEvent(lifeline.KindCallStart, "c1")
	})
}

func TestLiveKitRoutesValidateThen503(t *testing.T) {
	h := startWorker(t, nil)
	tok := token(t)
	tests := []struct {
		path, body string
		code       int
	}{
		{"/livekit/dialout", `{"call_id":"c1","to":"+441234567890"}`, http.StatusServiceUnavailable},
		{"/livekit/dialout", `{"call_id":"c1","to":"12345"}`, http.StatusUnprocessableEntity},
		{"/livekit/widget", `{"call_id":"c1","room":"web-1"}`, http.StatusServiceUnavailable},
		{"/livekit/widget", `{"call_id":"c1"}`, http.StatusUnprocessableEntity},
		{"/livekit/dispatch", `{"event":"participant_joined","room":{"name":"r"}}`, http.StatusServiceUnavailable},
		{"/livekit/dispatch", `{"event":7}`, http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		code, body := h.post(tt.path, tok, []byte(tt.body))
		if code != tt.code {
			t.Errorf("%s %s: %d %v; want %d", tt.path, tt.body, code, body, tt.code)
		}
		if code == http.StatusServiceUnavailable && body["error"] != "livekit not configured" {
			t.Errorf("%s: body %v", tt.path, body)
		}
	}
	if s, _ := h.w.State(); s != fleetapi.WorkerIdle {
		t.Fatalf("state %s", s)
	}
}

func TestBadHTTPInputNeverTakesTheSlot(t *testing.T) {
	h := startWorker(t, func(c *Config) { c.Rooms = newHeldRooms() })
	tok := token(t)
	big := make([]byte, BodyLimit+1)
	for i := range big {
		big[i] = ' '
	}
	tests := []struct {
		name string
		body []byte
		code int
	}{
		{"empty", nil, http.StatusBadRequest},
		{"malformed", []byte(`{"call_id":`), http.StatusBadRequest},
		{"not an object", []byte(`[1]`), http.StatusUnprocessableEntity},
		{"trailing data", []byte(`{"call_id":"c1","room":"r"} x`), http.StatusBadRequest},
		{"wrong type", []byte(`{"call_id":12,"room":"r"}`), http.StatusUnprocessableEntity},
		{"wrong metadata type", []byte(`{"call_id":"c1","room":"r","metadata":{"a":1}}`), http.StatusUnprocessableEntity},
		{"missing call_id", []byte(`{"room":"r"}`), http.StatusUnprocessableEntity},
		{"bad call_id", []byte(`{"call_id":"a b","room":"r"}`), http.StatusUnprocessableEntity},
		{"null", []byte(`null`), http.StatusUnprocessableEntity},
		{"oversize", big, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := h.post("/attach", tok, tt.body)
			if code != tt.code {
				t.Fatalf("status %d %v; want %d", code, body, tt.code)
			}
			if msg, _ := body["error"].(string); msg == "" {
				t.Fatalf("no error message: %v", body)
			}
			if hl := h.health(); hl.State != fleetapi.WorkerIdle {
				t.Fatalf("slot taken: %+v", hl)
			}
		})
	}
	t.Run("plain GET on stream route", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, h.base+fleetapi.PathTwilio, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := h.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if code, _ := decodeResponse(t, resp); code != http.StatusUpgradeRequired {
			t.Fatalf("status %d; want 426", code)
		}
		if s, _ := h.w.State(); s != fleetapi.WorkerIdle {
			t.Fatalf("state %s", s)
		}
	})
}

func TestBadStreamInputClosesCleanly(t *testing.T) {
	h := startWorker(t, nil)
	tests := []struct {
		name     string
		start    bool // send connected+start first
		send     func(c *twilio.Client) error
		wantCode int
		outcome  string // "" when no call started
	}{
		{"unknown event", true, raw(`{"event":"hello"}`), websocket.ClosePolicyViolation, lifeline.OutcomeFailed},
		{"malformed json", true, raw(`{"event":`), websocket.ClosePolicyViolation, lifeline.OutcomeFailed},
		{"bad base64", true, raw(`{"event":"media","media":{"payload":"***"}}`), websocket.ClosePolicyViolation, lifeline.OutcomeFailed},
		{"media before start", false, raw(`{"event":"media","media":{"payload":"` + base64.StdEncoding.EncodeToString(twilio.Silence(twilio.RealTime)) + `"}}`), websocket.ClosePolicyViolation, ""},
		{"bad media format", false, raw(`{"event":"start","start":{"streamSid":"MZ1","callSid":"CA1","mediaFormat":{"encoding":"audio/l16","sampleRate":16000,"channels":1}}}`), websocket.ClosePolicyViolation, ""},
		// The WebSocket library itself answers an oversize message, with no reason.
		{"oversize message", true, raw(`{"event":"stop","x":"` + string(make([]byte, twilio.MaxMessageSize)) + `"}`), websocket.CloseMessageTooBig, lifeline.OutcomeFailed},
		{"odd-sized payload tolerated then stop", true, func(c *twilio.Client) error {
			if err := c.SendAudio(context.Background(), twilio.Tone(7*time.Millisecond, 300, 8000), 0); err != nil {
				return err
			}
			return c.Stop()
		}, websocket.CloseNormalClosure, lifeline.OutcomeCompleted},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxFor(t, 30*time.Second)
			c, _, err := twilio.Dial(ctx, twilio.ClientConfig{URL: "ws://worker/ws/twilio", SocketPath: h.sock,
				Token: token(t), CallSID: "CA-bad-" + string(rune('a'+i))})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if tt.start {
				if err := c.Start(); err != nil {
					t.Fatal(err)
				}
				h.waitEvent(lifeline.KindCallStart, c.CallSID())
			}
			if err := tt.send(c); err != nil {
				t.Fatal(err)
			}
			s, err := c.Wait(ctx, closed)
			if err != nil {
				t.Fatal(err)
			}
			if s.CloseCode != tt.wantCode || s.CloseText == "" && tt.wantCode != websocket.CloseMessageTooBig {
				t.Fatalf("close %d %q; want code %d with a reason", s.CloseCode, s.CloseText, tt.wantCode)
			}
			h.waitState(fleetapi.WorkerIdle)
			if tt.outcome != "" {
				if e := h.waitEvent(lifeline.KindCallEnd, c.CallSID()); e.Outcome != tt.outcome {
					t.Fatalf("outcome %q; want %q", e.Outcome, tt.outcome)
				}
			}
		})
	}
}

func raw(s string) func(c *twilio.Client) error {
	return func(c *twilio.Client) error { return c.SendRaw([]byte(s)) }
}

func TestDrain(t *testing.T) {
	t.Run("idle worker returns at once", func(t *testing.T) {
		h := startWorker(t, nil)
		h.cancel()
		select {
		case err := <-h.runErr:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return")
		}
		h.runErr <- nil // for the cleanup
		h.waitEvent(lifeline.KindDraining, "")
		if _, err := h.http.Get(h.base + fleetapi.PathHealth); err == nil {
			t.Fatal("still serving after Run returned")
		}
	})
	for _, how := range []string{"context", "Drain", "lifeline EOF"} {
		t.Run("busy worker finishes its call: "+how, func(t *testing.T) {
			h := startWorker(t, nil)
			ctx := ctxFor(t, 30*time.Second)
			c := h.call(ctx)
			switch how {
			case "context":
				h.cancel()
			case "Drain":
				h.w.Drain()
			case "lifeline EOF":
				// The daemon's side closes: the worker reads EOF. Closing
				// only the write half keeps the worker's events readable.
				if err := h.parent.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
					t.Fatal(err)
				}
			}
			h.waitState(fleetapi.WorkerDraining)
			h.waitEvent(lifeline.KindDraining, "")
			if hl := h.health(); hl.State != fleetapi.WorkerDraining || hl.CallID != c.CallSID() {
				t.Fatalf("health while draining = %+v", hl)
			}
			_, resp, err := h.dial(ctx)
			if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("new call while draining: %v", err)
			}
			resp.Body.Close()

			// The call in progress carries on.
			if _, err := c.Wait(ctx, heard(agent.MarkGreeting)); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-h.runErr:
				t.Fatalf("Run returned during a call: %v", err)
			default:
			}
			if err := c.Stop(); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-h.runErr:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after the call ended")
			}
			h.runErr <- nil
			if e := h.waitEvent(lifeline.KindCallEnd, c.CallSID()); e.Outcome != lifeline.OutcomeCompleted {
				t.Fatalf("call_end = %+v", e)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	_, err := New(Config{Secret: []byte("short"), Index: -1, MaxCallDuration: -time.Second}, nil)
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"listener", "secret", "index", "max call duration"} {
		if !strings.Contains(strings.ToLower(err.Error()), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	var he *fleetapi.Error
	if errors.As(err, &he) {
		t.Fatal("config error is an HTTP error")
	}
}

func TestStalledMediaFlaggedThenEnded(t *testing.T) {
	h := startWorker(t, func(c *Config) { c.StallAfter, c.StallEnd = 200*time.Millisecond, 1500*time.Millisecond })
	ctx := ctxFor(t, 30*time.Second)
	c := h.call(ctx)
	if _, err := c.Wait(ctx, heard(agent.MarkGreeting)); err != nil {
		t.Fatal(err)
	}
	stalled := func(want bool) func() bool {
		return func() bool {
			for _, e := range h.eventsCopy() {
				if e.Kind == lifeline.KindStalled && e.CallID == c.CallSID() && e.Stalled == want {
					return true
				}
			}
			return false
		}
	}
	// The caller goes quiet on the wire: no media at all.
	waitFor(t, 5*time.Second, "stalled event", stalled(true))
	if s, _ := h.w.State(); s != fleetapi.WorkerBusy {
		t.Fatalf("a stalled call must keep its slot until the end limit; state %s", s)
	}
	// Media flows again: the flag clears.
	if err := c.SendAudio(ctx, twilio.Silence(100*time.Millisecond), 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "flowing-again event", stalled(false))
	// Quiet for good: the worker ends the call.
	end := h.waitEvent(lifeline.KindCallEnd, c.CallSID())
	if end.Outcome != lifeline.OutcomeFailed {
		t.Fatalf("outcome %q; want failed", end.Outcome)
	}
	s, err := c.Wait(ctx, closed)
	if err != nil || s.CloseCode != websocket.ClosePolicyViolation {
		t.Fatalf("close %d %q, %v; want policy violation", s.CloseCode, s.CloseText, err)
	}
	h.waitState(fleetapi.WorkerIdle)
}
