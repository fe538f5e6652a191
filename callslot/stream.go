package callslot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
	fws "github.com/gofiber/contrib/websocket"

	"github.com/voxplatform/vox/carrier"
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

// stream is the leg of one carrier media stream (Twilio, Exotel, Plivo,
// Telnyx, Vonage): the carrier's protocol is a carrier.Protocol, the leg
// the same for all.
type stream struct {
	proto    *carrier.Protocol
	conn     *websocket.Conn
	log      *slog.Logger
	stallEnd time.Duration // a read deadline backing the call's stall watcher
	agentID  string        // ?agent_id= of the stream's URL, when its carrier names none

	// Touched only by Run's goroutine.
	in       Inbound
	dec      carrier.Decoder
	started  bool
	admitted time.Time

	wmu    sync.Mutex      // guards writes to conn, enc, marks, voided, flush, closed and ending
	enc    carrier.Encoder // set at start
	marks  []string        // marks sent and not yet reported played
	voided []string        // marks whose audio a clear dropped, for carriers that only acknowledge the clear
	flush  *time.Timer     // flushes a part frame the encoder holds (carrier.Flusher)
	closed bool            // the close frame has been sent: no more writes
	ending bool            // the call is ending: no more media
}

// serveStream returns the handler that runs an upgraded /ws/<carrier>
// connection as a call.
func (w *Worker) serveStream(p *carrier.Protocol) func(*fws.Conn) {
	return func(c *fws.Conn) {
		gen, _ := c.Locals(localGen).(uint64)
		if !w.slot.claim(gen) {
			// The admission expired before the connection began.
			_ = c.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "busy"), time.Now().Add(writeTimeout))
			return
		}
		s := &stream{proto: p, conn: c.Conn, log: w.log.With("carrier", p.Name), stallEnd: w.cfg.StallEnd,
			admitted: time.Now(), dec: p.NewDecoder(), agentID: c.Query("agent_id")}
		w.newCall(gen, p.Name, s).run()
	}
}

// Run implements Leg: it reads messages until the stream ends.
func (s *stream) Run(ctx context.Context, in Inbound) End {
	s.in = in
	s.conn.SetReadLimit(s.proto.MaxMessageSize)
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
		if mt != websocket.TextMessage && !s.proto.BinaryAudio {
			return endBinary
		}
		events, err := s.dec.Decode(carrier.Frame{Binary: mt == websocket.BinaryMessage, Data: data})
		if err != nil {
			var pe *carrier.ProtocolError
			if errors.As(err, &pe) {
				s.log.Info("protocol violation", "err", err)
				return violation(pe.Reason)
			}
			return violation("bad message")
		}
		for _, ev := range events {
			if end, done := s.handle(ctx, ev); done {
				return end
			}
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

// handle acts on one event; done is set when the stream ends. When the
// call refuses an event (it is ending), the call's own end is returned.
func (s *stream) handle(ctx context.Context, ev carrier.Event) (end End, done bool) {
	var err error
	switch ev.Kind {
	case carrier.KindStart:
		err = s.begin(ev.Start)
	case carrier.KindAudio:
		err = s.in.CallerAudio(ev.Audio)
	case carrier.KindDTMF:
		err = s.in.CallerDTMF(ev.Digit)
	case carrier.KindMark:
		s.settle(ev.Mark)
		err = s.in.MarkPlayed(ev.Mark)
	case carrier.KindCleared:
		// The carrier never reports the marks whose audio it dropped.
		s.wmu.Lock()
		voided := s.voided
		s.voided = nil
		s.wmu.Unlock()
		for _, m := range voided {
			if err = s.in.MarkPlayed(m); err != nil {
				break
			}
		}
	case carrier.KindNotice:
		s.log.Warn("carrier reports a problem", "notice", ev.Text)
	case carrier.KindStop:
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

// settle forgets a mark the carrier reported.
func (s *stream) settle(name string) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	for _, l := range []*[]string{&s.marks, &s.voided} {
		for i, m := range *l {
			if m == name {
				*l = append((*l)[:i], (*l)[i+1:]...)
				return
			}
		}
	}
}

// begin begins and answers the call on the start message.
func (s *stream) begin(st *carrier.Start) error {
	s.started = true
	s.wmu.Lock()
	s.enc = st.Encoder
	s.wmu.Unlock()
	s.log = s.log.With("call_id", st.CallID)
	agentID := st.AgentID
	if agentID == "" {
		agentID = s.agentID
	}
	if err := s.in.Begin(CallInfo{ID: st.CallID, AgentID: agentID, StreamSID: st.StreamID,
		Parameters: st.Parameters}); err != nil {
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
	if s.flush != nil {
		s.flush.Stop()
	}
	if s.closed {
		return
	}
	s.closed = true
	if code := closeCode(end); code != 0 {
		_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, end.Reason),
			time.Now().Add(writeTimeout))
	}
}

// send writes the frames build makes to the carrier.
func (s *stream) send(what string, build func(enc carrier.Encoder) []carrier.Frame) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed || s.ending || s.enc == nil {
		return errCallEnded
	}
	for _, f := range build(s.enc) {
		mt := websocket.TextMessage
		if f.Binary {
			mt = websocket.BinaryMessage
		}
		_ = s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		if err := s.conn.WriteMessage(mt, f.Data); err != nil {
			s.closed = true
			return fmt.Errorf("send %s: %w", what, err)
		}
	}
	return nil
}

// flushAfter is how long an encoder may hold the end of the agent's audio
// short of a whole frame, waiting for more, before it goes padded.
const flushAfter = 40 * time.Millisecond

// Audio implements Leg: the agent's audio in the carrier's framing.
func (s *stream) Audio(pcm []int16) error {
	return s.send("media", func(enc carrier.Encoder) []carrier.Frame {
		fr := enc.Audio(pcm)
		if f, ok := enc.(carrier.Flusher); ok {
			if s.flush == nil {
				s.flush = time.AfterFunc(flushAfter, func() {
					_ = s.send("media", func(carrier.Encoder) []carrier.Frame { return f.Flush() })
				})
			} else {
				s.flush.Reset(flushAfter)
			}
		}
		return fr
	})
}

// Mark implements Leg.
func (s *stream) Mark(name string) error {
	return s.send("mark", func(enc carrier.Encoder) []carrier.Frame {
		s.marks = append(s.marks, name)
		return enc.Mark(name)
	})
}

// Clear implements Leg. The marks queued so far are void: a carrier
// reports them (Twilio, Exotel, Telnyx) or acknowledges the clear, and
// then the leg reports them itself (Plivo, Vonage).
func (s *stream) Clear() error {
	return s.send("clear", func(enc carrier.Encoder) []carrier.Frame {
		s.voided = append(s.voided, s.marks...)
		s.marks = nil
		return []carrier.Frame{enc.Clear()}
	})
}
