package callslot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
	fws "github.com/gofiber/contrib/websocket"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/lifeline"
	"github.com/voxplatform/vox/twilio"
)

// endReason is why a stream ended: the WebSocket close sent and the call's
// outcome.
type endReason struct {
	code    int    // WebSocket close code sent to the carrier
	text    string // close reason sent, and logged
	outcome string
}

// ended is the cancel cause of a call's context.
type ended struct{ endReason }

func (e *ended) Error() string { return e.text }

var (
	endStop        = endReason{websocket.CloseNormalClosure, "stream stopped", lifeline.OutcomeCompleted}
	endHangup      = endReason{websocket.CloseNormalClosure, "agent hung up", lifeline.OutcomeCompleted}
	endMaxDuration = endReason{websocket.CloseNormalClosure, "max call duration", lifeline.OutcomeCompleted}
	endGone        = endReason{websocket.CloseNormalClosure, "carrier closed the stream", lifeline.OutcomeCompleted}
	endLost        = endReason{websocket.CloseAbnormalClosure, "connection lost", lifeline.OutcomeFailed}
	endIdle        = endReason{websocket.ClosePolicyViolation, "no media", lifeline.OutcomeFailed}
	endBinary      = endReason{websocket.CloseUnsupportedData, "binary messages are not part of the protocol", lifeline.OutcomeFailed}
	endTooBig      = endReason{websocket.CloseMessageTooBig, "message too big", lifeline.OutcomeFailed}
	endAgent       = endReason{websocket.CloseInternalServerErr, "agent error", lifeline.OutcomeFailed}
)

func violation(reason string) endReason {
	if len(reason) > 120 { // a close frame carries at most 123 bytes of reason
		reason = reason[:120]
	}
	return endReason{websocket.ClosePolicyViolation, reason, lifeline.OutcomeFailed}
}

// stream is one Twilio Media Streams call.
type stream struct {
	w      *Worker
	conn   *websocket.Conn
	gen    uint64
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelCauseFunc

	streamSID string
	sess      agent.Session
	started   bool
	rec       CallRecord

	lastMedia atomic.Int64           // unix nanoseconds of the last inbound media frame; 0 before start
	callID    atomic.Pointer[string] // set on start, for the stall watcher
	stalled   bool                   // reported stalled; touched only by the stall watcher

	wmu    sync.Mutex // guards writes to conn and closed
	closed bool       // the close frame has been sent: no more writes
}

// serveStream runs an upgraded /ws/twilio connection as a call.
func (w *Worker) serveStream(c *fws.Conn) {
	gen, _ := c.Locals(localGen).(uint64)
	if !w.slot.claim(gen) {
		// The admission expired before the connection began.
		_ = c.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "busy"), time.Now().Add(writeTimeout))
		return
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	s := &stream{w: w, conn: c.Conn, gen: gen, log: w.log, ctx: ctx, cancel: cancel,
		rec: CallRecord{Source: "twilio", Started: time.Now()}}
	s.run()
}

func (s *stream) run() {
	end := endLost
	loopDone := make(chan struct{})
	watchDone := make(chan struct{})
	// Unblock the read loop when the call is ended from elsewhere (agent
	// hang-up, max duration). It must be gone before the connection is.
	// It also flags a call whose media stopped advancing for StallAfter.
	go func() {
		defer close(watchDone)
		tick := time.NewTicker(max(s.w.cfg.StallAfter/4, 10*time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-s.ctx.Done():
				_ = s.conn.SetReadDeadline(time.Now())
				return
			case <-loopDone:
				if s.stalled {
					s.w.callStalled(*s.callID.Load(), false)
				}
				return
			case <-tick.C:
				s.watchStall()
			}
		}
	}()
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("stream panic", "call_id", s.rec.CallID, "panic", fmt.Sprint(p))
			end = endAgent
		}
		close(loopDone)
		<-watchDone
		s.finish(end)
	}()
	s.conn.SetReadLimit(twilio.MaxMessageSize)
	timer := time.AfterFunc(s.w.cfg.MaxCallDuration, func() { s.cancel(&ended{endMaxDuration}) })
	defer timer.Stop()
	end = s.loop()
}

// watchStall reports the call stalled once its media has not advanced for
// StallAfter, and flowing again once it has. Only the watcher goroutine calls it.
func (s *stream) watchStall() {
	last := s.lastMedia.Load()
	if last == 0 {
		return // not started
	}
	id := *s.callID.Load()
	idle := time.Since(time.Unix(0, last))
	switch stalled := idle >= s.w.cfg.StallAfter; {
	case stalled && !s.stalled:
		s.stalled = true
		s.w.callStalled(id, true)
	case !stalled && s.stalled:
		s.stalled = false
		s.w.callStalled(id, false)
	}
}

// loop reads messages until the stream ends and says why.
func (s *stream) loop() endReason {
	for {
		deadline := time.Now().Add(s.w.cfg.StallEnd)
		if !s.started {
			deadline = s.rec.Started.Add(startTimeout)
		}
		_ = s.conn.SetReadDeadline(deadline)
		mt, data, err := s.conn.ReadMessage()
		if err != nil {
			return s.readEnd(err)
		}
		if mt != websocket.TextMessage {
			return endBinary
		}
		m, err := twilio.Parse(data)
		if err != nil {
			var pe *twilio.ProtocolError
			if errors.As(err, &pe) {
				s.log.Info("protocol violation", "call_id", s.rec.CallID, "err", err)
				return violation(pe.Reason)
			}
			return violation("bad message")
		}
		if end, done := s.handle(m); done {
			return end
		}
	}
}

// readEnd classifies a read error.
func (s *stream) readEnd(err error) endReason {
	var e *ended
	if errors.As(context.Cause(s.ctx), &e) {
		return e.endReason
	}
	var ce *websocket.CloseError
	var ne interface{ Timeout() bool }
	switch {
	case errors.As(err, &ce) && (ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseGoingAway):
		return endGone
	case errors.Is(err, websocket.ErrReadLimit):
		return endTooBig
	case errors.As(err, &ne) && ne.Timeout() && !s.started:
		return violation("no start message")
	case errors.As(err, &ne) && ne.Timeout():
		return endIdle
	}
	s.log.Info("stream read failed", "call_id", s.rec.CallID, "err", err)
	return endLost
}

// handle acts on one message; done is set when the stream ends.
func (s *stream) handle(m twilio.Message) (end endReason, done bool) {
	if !s.started && m.Event != twilio.EventConnected && m.Event != twilio.EventStart {
		return violation(m.Event + " before start"), true
	}
	var err error
	switch m.Event {
	case twilio.EventConnected:
		return end, false
	case twilio.EventStart:
		if s.started {
			return violation("second start"), true
		}
		if err := s.begin(m.Start); err != nil {
			s.log.Error("agent refused the call", "call_id", s.rec.CallID, "err", err)
			return endAgent, true
		}
		return end, false
	case twilio.EventMedia:
		if m.Media.Track != "" && m.Media.Track != "inbound" {
			return end, false
		}
		s.lastMedia.Store(time.Now().UnixNano())
		err = s.sess.OnAudio(s.ctx, twilio.DecodeMulaw(nil, m.Media.Audio))
	case twilio.EventDTMF:
		err = s.sess.OnDTMF(s.ctx, m.DTMF.Digit)
	case twilio.EventMark:
		err = s.sess.OnMark(s.ctx, m.Mark.Name)
	case twilio.EventStop:
		return endStop, true
	}
	if err != nil {
		var e *ended
		if errors.As(context.Cause(s.ctx), &e) {
			return e.endReason, true // the sink refused because the call was ending
		}
		s.log.Error("agent failed", "call_id", s.rec.CallID, "err", err)
		return endAgent, true
	}
	if e := (*ended)(nil); errors.As(context.Cause(s.ctx), &e) {
		return e.endReason, true
	}
	return end, false
}

// begin starts the call on the start message.
func (s *stream) begin(st *twilio.Start) error {
	s.started = true
	s.streamSID = st.StreamSID
	s.rec.StreamSID = st.StreamSID
	s.rec.CallID = st.CallSID
	if s.rec.CallID == "" {
		s.rec.CallID = st.StreamSID
	}
	s.rec.Parameters = st.CustomParameters
	s.rec.AgentID = st.CustomParameters["agent_id"]
	s.log = s.w.log.With("call_id", s.rec.CallID)
	s.w.slot.setCallID(s.gen, s.rec.CallID)
	s.w.callStarted(s.rec.CallID)
	id := s.rec.CallID
	s.callID.Store(&id)
	s.lastMedia.Store(time.Now().UnixNano())
	sess, err := s.w.cfg.Agent.NewSession(agent.Call{ID: s.rec.CallID, AgentID: s.rec.AgentID,
		Parameters: st.CustomParameters}, s)
	if err != nil {
		return fmt.Errorf("new session: %w", err)
	}
	s.sess = sess
	if err := sess.Start(s.ctx); err != nil {
		return fmt.Errorf("start session: %w", err)
	}
	return nil
}

// finish closes the stream and the session, reports the call and frees the
// slot.
func (s *stream) finish(end endReason) {
	s.cancel(&ended{end})
	s.wmu.Lock()
	if !s.closed {
		s.closed = true
		if end.code != websocket.CloseAbnormalClosure {
			_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(end.code, end.text),
				time.Now().Add(writeTimeout))
		}
	}
	s.wmu.Unlock()
	if s.sess != nil {
		if err := s.sess.Close(); err != nil {
			s.log.Warn("close session", "err", err)
		}
	}
	if s.started {
		s.rec.Ended = time.Now()
		s.rec.Outcome, s.rec.Reason = end.outcome, end.text
		s.w.callEnded(s.rec)
	} else {
		s.log.Info("stream ended before start", "reason", end.text)
	}
	s.w.slot.release(s.gen)
}

// errCallEnded is returned by the Sink methods once the call is over.
var errCallEnded = errors.New("call ended")

// send writes one message to the carrier.
func (s *stream) send(m twilio.Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s: %w", m.Event, err)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed || s.ctx.Err() != nil {
		return errCallEnded
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := s.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		s.closed = true
		return fmt.Errorf("send %s: %w", m.Event, err)
	}
	return nil
}

// Audio implements agent.Sink: mu-law, in 20 ms media messages.
func (s *stream) Audio(pcm []int16) error {
	buf := twilio.EncodeMulaw(make([]byte, 0, len(pcm)), pcm)
	for len(buf) > 0 {
		n := min(twilio.FrameBytes, len(buf))
		if err := s.send(twilio.OutboundMedia(s.streamSID, buf[:n])); err != nil {
			return err
		}
		buf = buf[n:]
	}
	return nil
}

// Mark implements agent.Sink.
func (s *stream) Mark(name string) error { return s.send(twilio.OutboundMark(s.streamSID, name)) }

// Clear implements agent.Sink.
func (s *stream) Clear() error { return s.send(twilio.OutboundClear(s.streamSID)) }

// Hangup implements agent.Sink.
func (s *stream) Hangup(reason string) {
	s.log.Info("agent hangs up", "reason", reason)
	s.cancel(&ended{endHangup})
}
