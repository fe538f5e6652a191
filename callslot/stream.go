package callslot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
	fws "github.com/gofiber/contrib/websocket"

	"github.com/voxplatform/vox/twilio"
)

// How a stream ends, as the carrier's side sees it. The close code goes into
// End.Code and the WebSocket close frame.
var (
	endStop   = End{Cause: CauseCallerHangup, Reason: "stream stopped", Code: websocket.CloseNormalClosure}
	endGone   = End{Cause: CauseCallerHangup, Reason: "carrier closed the stream", Code: websocket.CloseNormalClosure}
	endIdle   = End{Cause: CauseNoMedia, Reason: "no media", Code: websocket.ClosePolicyViolation}
	endBinary = End{Cause: CauseProtocol, Reason: "binary messages are not part of the protocol", Code: websocket.CloseUnsupportedData}
	endTooBig = End{Cause: CauseProtocol, Reason: "message too big", Code: websocket.CloseMessageTooBig}
)

func violation(reason string) End {
	if len(reason) > 120 { // a close frame carries at most 123 bytes of reason
		reason = reason[:120]
	}
	return End{Cause: CauseProtocol, Reason: reason, Code: websocket.ClosePolicyViolation}
}

// closeCode is the WebSocket close code a stream ending for e sends; 0 means
// none (the connection is gone).
func closeCode(e End) int {
	if e.Code != 0 {
		return e.Code
	}
	switch e.Cause {
	case CauseCallerHangup, CauseAgentHangup, CauseMaxDuration, CauseRoomDeleted:
		return websocket.CloseNormalClosure
	case CauseNoMedia, CauseProtocol:
		return websocket.ClosePolicyViolation
	case CauseLost:
		return 0
	}
	return websocket.CloseInternalServerErr
}

// stream is the leg of one Twilio Media Streams call.
type stream struct {
	conn     *websocket.Conn
	log      *slog.Logger
	stallEnd time.Duration // a read deadline backing the call's stall watcher

	// Touched only by Run's goroutine.
	in        Inbound
	started   bool
	admitted  time.Time
	streamSID string // also read by the sink methods, after start

	wmu    sync.Mutex // guards writes to conn, closed and ending
	closed bool       // the close frame has been sent: no more writes
	ending bool       // the call is ending: no more media
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
	s := &stream{conn: c.Conn, log: w.log, stallEnd: w.cfg.StallEnd, admitted: time.Now()}
	w.newCall(gen, "twilio", s).run()
}

// Run implements Leg: it reads messages until the stream ends.
func (s *stream) Run(ctx context.Context, in Inbound) End {
	s.in = in
	s.conn.SetReadLimit(twilio.MaxMessageSize)
	// Unblock the read loop when the call is ended from elsewhere (agent
	// hang-up, max duration, stall). It must be gone before Run returns.
	loopDone := make(chan struct{})
	unblocked := make(chan struct{})
	go func() {
		defer close(unblocked)
		select {
		case <-ctx.Done():
			s.wmu.Lock()
			s.ending = true
			s.wmu.Unlock()
			_ = s.conn.SetReadDeadline(time.Now())
		case <-loopDone:
		}
	}()
	end := s.loop(ctx)
	close(loopDone)
	<-unblocked
	return end
}

// loop reads messages until the stream ends and says why.
func (s *stream) loop(ctx context.Context) End {
	for {
		deadline := time.Now().Add(s.stallEnd)
		if !s.started {
			deadline = s.admitted.Add(startTimeout)
		}
		_ = s.conn.SetReadDeadline(deadline)
		mt, data, err := s.conn.ReadMessage()
		if err != nil {
			return s.readEnd(ctx, err)
		}
		if mt != websocket.TextMessage {
			return endBinary
		}
		m, err := twilio.Parse(data)
		if err != nil {
			var pe *twilio.ProtocolError
			if errors.As(err, &pe) {
				s.log.Info("protocol violation", "err", err)
				return violation(pe.Reason)
			}
			return violation("bad message")
		}
		if end, done := s.handle(ctx, m); done {
			return end
		}
	}
}

// readEnd classifies a read error.
func (s *stream) readEnd(ctx context.Context, err error) End {
	if e, ok := endOf(ctx); ok {
		return e
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
	s.log.Info("stream read failed", "err", err)
	return endLost
}

// handle acts on one message; done is set when the stream ends. When the
// call refuses a message (it is ending), the call's own end is returned.
func (s *stream) handle(ctx context.Context, m twilio.Message) (end End, done bool) {
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
		err = s.begin(m.Start)
	case twilio.EventMedia:
		if m.Media.Track != "" && m.Media.Track != "inbound" {
			return end, false
		}
		err = s.in.CallerAudio(twilio.DecodeMulaw(nil, m.Media.Audio))
	case twilio.EventDTMF:
		err = s.in.CallerDTMF(m.DTMF.Digit)
	case twilio.EventMark:
		err = s.in.MarkPlayed(m.Mark.Name)
	case twilio.EventStop:
		return endStop, true
	}
	if err != nil || ctx.Err() != nil {
		if e, ok := endOf(ctx); ok {
			return e, true
		}
		return endAgentError, true
	}
	return end, false
}

// begin begins and answers the call on the start message.
func (s *stream) begin(st *twilio.Start) error {
	s.started = true
	s.wmu.Lock()
	s.streamSID = st.StreamSID
	s.wmu.Unlock()
	id := st.CallSID
	if id == "" {
		id = st.StreamSID
	}
	s.log = s.log.With("call_id", id)
	if err := s.in.Begin(CallInfo{ID: id, AgentID: st.CustomParameters["agent_id"], StreamSID: st.StreamSID,
		Parameters: st.CustomParameters}); err != nil {
		return err
	}
	return s.in.Answer()
}

// Close implements Leg: it sends the close frame that says why the stream
// ended (none when the connection is gone).
func (s *stream) Close(end End) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.ending = true
	if s.closed {
		return
	}
	s.closed = true
	if code := closeCode(end); code != 0 {
		_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, end.Reason),
			time.Now().Add(writeTimeout))
	}
}

// send writes one message to the carrier.
func (s *stream) send(event string, build func(sid string) twilio.Message) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed || s.ending {
		return errCallEnded
	}
	b, err := json.Marshal(build(s.streamSID))
	if err != nil {
		return fmt.Errorf("encode %s: %w", event, err)
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := s.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		s.closed = true
		return fmt.Errorf("send %s: %w", event, err)
	}
	return nil
}

// Audio implements Leg: mu-law, in 20 ms media messages.
func (s *stream) Audio(pcm []int16) error {
	buf := twilio.EncodeMulaw(make([]byte, 0, len(pcm)), pcm)
	for len(buf) > 0 {
		n := min(twilio.FrameBytes, len(buf))
		chunk := buf[:n]
		if err := s.send("media", func(sid string) twilio.Message { return twilio.OutboundMedia(sid, chunk) }); err != nil {
			return err
		}
		buf = buf[n:]
	}
	return nil
}

// Mark implements Leg.
func (s *stream) Mark(name string) error {
	return s.send("mark", func(sid string) twilio.Message { return twilio.OutboundMark(sid, name) })
}

// Clear implements Leg.
func (s *stream) Clear() error {
	return s.send("clear", func(sid string) twilio.Message { return twilio.OutboundClear(sid) })
}
