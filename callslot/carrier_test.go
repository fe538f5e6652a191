package callslot

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/carrier"
	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/lifeline"
)

// markLog is an agent factory (the scripted agent) that records the marks
// its sessions are told have played.
type markLog struct {
	mu    sync.Mutex // guards marks
	marks []string
}

func (l *markLog) NewSession(call agent.Call, out agent.Sink) (agent.Session, error) {
	s, err := agent.Scripted{}.NewSession(call, out)
	return &loggedSession{Session: s, log: l}, err
}

func (l *markLog) played() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.marks...)
}

type loggedSession struct {
	agent.Session
	log *markLog
}

func (s *loggedSession) OnMark(ctx context.Context, name string) error {
	s.log.mu.Lock()
	s.log.marks = append(s.log.marks, name)
	s.log.mu.Unlock()
	return s.Session.OnMark(ctx, name)
}

// dialCarrier opens a stream of carrier p to the worker with a valid token.
func (h *harness) dialCarrier(ctx context.Context, p *carrier.Protocol, cfg carrier.ClientConfig) *carrier.Client {
	h.t.Helper()
	cfg.URL, cfg.SocketPath, cfg.Token = "ws://worker"+fleetapi.StreamPath(p.Name), h.sock, token(h.t)
	c, _, err := carrier.Dial(ctx, p, cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = c.Close() })
	return c
}

// Each carrier's call, in its own protocol: the caller hears the greeting,
// talks over it and the agent clears its audio (the greeting's mark is
// reported played, by the carrier's echo or its clear acknowledgement),
// hears itself back, presses a key and hears the beep, and stops the
// stream; the call record names the carrier and the slot is free.
func TestCarrierCalls(t *testing.T) {
	marks := &markLog{}
	recs := &records{}
	h := startWorker(t, func(c *Config) { c.Agent, c.Recorder = marks, recs })
	for _, name := range carrier.Names() {
		p := carrier.Protocols()[name]
		t.Run(name, func(t *testing.T) {
			ctx := ctxFor(t, 30*time.Second)
			c := h.dialCarrier(ctx, p, carrier.ClientConfig{Reorder: p == carrier.Telnyx})
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			h.waitEvent(lifeline.KindCallStart, c.CallID())
			if _, err := c.Wait(ctx, func(s carrier.Stats) bool { return s.VoicedSamples > 0 }); err != nil {
				t.Fatalf("no greeting heard: %v", err)
			}

			// Barge in while the greeting plays.
			speech := carrier.Tone(400*time.Millisecond, 300, 8000)
			if err := c.SendAudio(ctx, speech, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Wait(ctx, func(s carrier.Stats) bool { return s.Clears > 0 }); err != nil {
				t.Fatalf("not cleared on barge-in: %v", err)
			}
			waitFor(t, 10*time.Second, "the greeting's mark settled by the clear", func() bool {
				return slices.Contains(marks.played(), agent.MarkGreeting)
			})
			before := c.Stats().VoicedSamples
			if err := c.SendAudio(ctx, carrier.Silence(700*time.Millisecond), 0); err != nil {
				t.Fatal(err)
			}
			s, err := c.Wait(ctx, func(s carrier.Stats) bool { return slices.Contains(s.Marks, agent.MarkEchoPrefix+"1") })
			if err != nil {
				t.Fatalf("no echo: %v", err)
			}
			if echoed := s.VoicedSamples - before; echoed < len(speech)/2 {
				t.Fatalf("echo carried %d voiced samples; want about %d", echoed, len(speech))
			}

			before = s.Samples
			if err := c.SendDTMF("5"); err != nil {
				t.Fatal(err)
			}
			// The whole beep, though it ends short of a whole frame and no
			// mark follows it: the leg flushes what the encoder held.
			if _, err := c.Wait(ctx, func(s carrier.Stats) bool { return s.Samples >= before+len(agent.Beep())-40 }); err != nil {
				t.Fatalf("no whole beep after a key press (%d of %d samples): %v", c.Stats().Samples-before, len(agent.Beep()), err)
			}

			if err := c.Stop(); err != nil {
				t.Fatal(err)
			}
			s, err = c.Wait(ctx, func(s carrier.Stats) bool { return s.Closed })
			if err != nil {
				t.Fatal(err)
			}
			if p.NewCaller(carrier.CallerConfig{}).Stop() != nil && s.CloseCode != websocket.CloseNormalClosure {
				t.Fatalf("close %d %q; want normal closure", s.CloseCode, s.CloseText)
			}
			rec := recs.wait(t, c.CallID())
			if rec.Carrier != name || rec.Cause != CauseCallerHangup || rec.Source != name {
				t.Fatalf("record carrier %q source %q cause %q", rec.Carrier, rec.Source, rec.Cause)
			}
			if rt := rec.Runtime("http://fleet.example"); rt.Validate() != nil {
				err := rt.Validate()
				t.Fatalf("runtime record: %v", err)
			}
			h.waitState(fleetapi.WorkerIdle)
		})
	}
}

// A bad frame of any carrier ends its call with a policy-violation close
// and a reason, and frees the slot.
func TestCarrierBadFrames(t *testing.T) {
	h := startWorker(t, nil)
	tests := []struct {
		p     *carrier.Protocol
		name  string
		frame carrier.Frame
		code  int
	}{
		{carrier.Exotel, "chunk not a multiple of 320", carrier.Text([]byte(`{"event":"media","sequence_number":"50","media":{"payload":"AAAA"}}`)), websocket.ClosePolicyViolation},
		{carrier.Exotel, "out of order", carrier.Text([]byte(`{"event":"dtmf","sequence_number":"1","dtmf":{"digit":"1"}}`)), websocket.ClosePolicyViolation},
		{carrier.Exotel, "binary", carrier.Frame{Binary: true, Data: make([]byte, 320)}, websocket.CloseUnsupportedData},
		{carrier.Plivo, "bad base64", carrier.Text([]byte(`{"event":"media","sequenceNumber":50,"media":{"payload":"***"}}`)), websocket.ClosePolicyViolation},
		{carrier.Plivo, "unknown event", carrier.Text([]byte(`{"event":"hello","sequenceNumber":50}`)), websocket.ClosePolicyViolation},
		{carrier.Telnyx, "duplicate held frame", carrier.Text([]byte(`{"event":"dtmf","sequence_number":"50","dtmf":{"digit":"1"}}`)), websocket.ClosePolicyViolation},
		{carrier.Telnyx, "oversize message", carrier.Text(append(append([]byte(`{"event":"media","x":"`), make([]byte, carrier.Telnyx.MaxMessageSize)...), `"}`...)), websocket.CloseMessageTooBig},
		{carrier.Vonage, "wrong frame size", carrier.Frame{Binary: true, Data: make([]byte, 641)}, websocket.ClosePolicyViolation},
		{carrier.Vonage, "malformed json", carrier.Text([]byte(`{"event":`)), websocket.ClosePolicyViolation},
	}
	for _, tt := range tests {
		t.Run(tt.p.Name+"/"+tt.name, func(t *testing.T) {
			ctx := ctxFor(t, 20*time.Second)
			c := h.dialCarrier(ctx, tt.p, carrier.ClientConfig{})
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			h.waitEvent(lifeline.KindCallStart, c.CallID())
			if err := c.SendRaw(tt.frame); err != nil {
				t.Fatal(err)
			}
			if tt.name == "duplicate held frame" {
				_ = c.SendRaw(tt.frame)
			}
			s, err := c.Wait(ctx, func(s carrier.Stats) bool { return s.Closed })
			if err != nil {
				t.Fatal(err)
			}
			if s.CloseCode != tt.code || s.CloseText == "" && tt.code != websocket.CloseMessageTooBig {
				t.Fatalf("close %d %q; want %d with a reason", s.CloseCode, s.CloseText, tt.code)
			}
			if e := h.waitEvent(lifeline.KindCallEnd, c.CallID()); e.Outcome != lifeline.OutcomeFailed {
				t.Fatalf("outcome %q; want failed", e.Outcome)
			}
			h.waitState(fleetapi.WorkerIdle)
		})
	}
}

// A stream that never starts frees the slot with a policy violation.
func TestCarrierNoStart(t *testing.T) {
	h := startWorker(t, nil)
	ctx := ctxFor(t, 20*time.Second)
	c := h.dialCarrier(ctx, carrier.Vonage, carrier.ClientConfig{})
	if err := c.SendRaw(carrier.Frame{Binary: true, Data: make([]byte, carrier.VonageFrameBytes)}); err != nil {
		t.Fatal(err)
	}
	s, err := c.Wait(ctx, func(s carrier.Stats) bool { return s.Closed })
	if err != nil || s.CloseCode != websocket.ClosePolicyViolation {
		t.Fatalf("close %d %q, %v; want policy violation", s.CloseCode, s.CloseText, err)
	}
	h.waitState(fleetapi.WorkerIdle)
}

// A carrier that names no agent in its parameters (a Vonage NCCO without
// headers, say) can name it in the stream's URL: ?agent_id=.
func TestCarrierAgentFromURL(t *testing.T) {
	recs := &records{}
	h := startWorker(t, func(c *Config) { c.Recorder = recs })
	ctx := ctxFor(t, 20*time.Second)
	const agentID = "0123456789abcdef01234567"
	c, _, err := carrier.Dial(ctx, carrier.Vonage, carrier.ClientConfig{SocketPath: h.sock, Token: token(t),
		URL: "ws://worker" + fleetapi.StreamPath("vonage") + "?agent_id=" + agentID})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	h.waitEvent(lifeline.KindCallStart, c.CallID())
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if rec := recs.wait(t, c.CallID()); rec.AgentID != agentID || rec.Carrier != "vonage" {
		t.Fatalf("record agent %q carrier %q; want %q vonage", rec.AgentID, rec.Carrier, agentID)
	}
	h.waitState(fleetapi.WorkerIdle)
}
