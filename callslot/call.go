package callslot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/lifeline"
	"github.com/voxplatform/vox/recording"
	"github.com/voxplatform/vox/runtimeapi"
)

// EndCause says why a call ended. The causes the Backend knows are
// runtimeapi's End… values; the others are the worker's own finer ones.
type EndCause string

// The causes a call ends with.
const (
	CauseCallerHangup EndCause = runtimeapi.EndCallerHangup // the caller hung up, left the room or the carrier stopped the stream
	CauseAgentHangup  EndCause = runtimeapi.EndAgentHangup  // the agent ended the call
	CauseMaxDuration  EndCause = runtimeapi.EndMaxDuration  // the call reached its maximum duration
	CauseRoomDeleted  EndCause = runtimeapi.EndRoomDeleted  // the call's LiveKit room was deleted
	CauseNoMedia      EndCause = runtimeapi.EndStalled      // nothing arrived from the caller for StallEnd
	CauseNoCaller     EndCause = runtimeapi.EndNoCaller     // a widget caller never joined
	CauseNoAnswer     EndCause = "no_answer"                // the callee never answered
	CauseBusy         EndCause = "busy"                     // the callee was busy
	CauseSetupFailed  EndCause = "setup_failed"             // the call could not be placed or joined
	CauseLost         EndCause = "connection_lost"          // the carrier's connection broke
	CauseProtocol     EndCause = "protocol_error"           // the carrier broke its protocol
	CauseAgentError   EndCause = "agent_error"              // the agent failed or refused the call
)

// Outcome is the lifeline outcome of a call that ended for c: completed
// when the call ran its course, failed otherwise.
func (c EndCause) Outcome() string {
	switch c {
	case CauseCallerHangup, CauseAgentHangup, CauseMaxDuration, CauseRoomDeleted:
		return lifeline.OutcomeCompleted
	}
	return lifeline.OutcomeFailed
}

// End is how a call ended.
type End struct {
	Cause EndCause
	// Reason says it for people: logged, in the call record, sent as a
	// WebSocket close reason.
	Reason string
	// Code is the carrier's own status when it has one: a WebSocket close
	// code, a SIP status.
	Code int
}

// ended carries an End as the cancel cause of a call's context.
type ended struct{ End }

func (e *ended) Error() string { return e.Reason }

// endOf returns the End a call's context was cancelled with, if any.
func endOf(ctx context.Context) (End, bool) {
	var e *ended
	if errors.As(context.Cause(ctx), &e) {
		return e.End, true
	}
	return End{}, false
}

// Ends the call itself decides.
var (
	endAgentHangup = End{Cause: CauseAgentHangup, Reason: "agent hung up"}
	endMaxDuration = End{Cause: CauseMaxDuration, Reason: "max call duration"}
	endNoMedia     = End{Cause: CauseNoMedia, Reason: "no media"}
	endAgentError  = End{Cause: CauseAgentError, Reason: "agent error"}
	endLost        = End{Cause: CauseLost, Reason: "connection lost"}
)

// errCallEnded is returned by a call's methods once the call is over.
var errCallEnded = errors.New("call ended")

// callPhase is where a call is in its life. A call moves forward only:
// admitted → begun → answered → ended; it may end from any phase.
type callPhase int

const (
	// phaseAdmitted: the slot is taken, the call is not known yet (a
	// stream before its start message).
	phaseAdmitted callPhase = iota
	// phaseBegun: the call is known (its id, its agent) and reported
	// started; the caller is not there yet (ringing, joining a room,
	// waiting for a browser caller).
	phaseBegun
	// phaseAnswered: the caller is there and the agent session runs.
	phaseAnswered
	// phaseEnded: finished, recorded, the slot released.
	phaseEnded
)

// CallInfo is what a leg knows of its call when the call begins.
type CallInfo struct {
	ID         string
	AgentID    string
	StreamSID  string
	Parameters map[string]string
}

// Inbound is the call as a leg sees it. A leg calls its methods from its
// Run goroutine only, in the order things happen. An error means the call
// is ending: Run should return.
type Inbound interface {
	// Begin makes the call known; a leg whose call is known at admission
	// (every route but a stream) never calls it.
	Begin(info CallInfo) error
	// Answer says the caller is there: the agent session starts.
	Answer() error
	// CallerAudio is the caller's audio, 8 kHz mono.
	CallerAudio(pcm []int16) error
	// CallerDTMF is one key press of the caller.
	CallerDTMF(digit string) error
	// MarkPlayed says the agent's audio before mark name has played.
	MarkPlayed(name string) error
}

// Leg is one carrier's side of a call: a Twilio media stream, a LiveKit
// room. The call owns the lifecycle (slot, record, end cause, maximum
// duration, stall watcher, lifeline events); a leg moves media.
type Leg interface {
	// Run carries the leg until it ends and says why; it feeds the
	// caller's side to in. It must return soon after ctx ends (the call
	// then ends with the cause of ctx, see endOf).
	Run(ctx context.Context, in Inbound) End
	// Audio queues agent audio for the caller (agent.Sink).
	Audio(pcm []int16) error
	// Mark queues a named point after the audio queued so far (agent.Sink).
	Mark(name string) error
	// Clear drops audio queued but not yet played (agent.Sink).
	Clear() error
	// Close ends the leg for end once Run has returned: a WebSocket close
	// frame, leaving (or deleting) a room.
	Close(end End)
}

// call is one call on a worker's slot, whatever its carrier.
type call struct {
	w      *Worker
	gen    uint64
	leg    Leg
	logp   atomic.Pointer[slog.Logger] // the worker's, with the call id once known
	ctx    context.Context
	cancel context.CancelCauseFunc

	// Touched only by the goroutine of run (the leg's Run calls Inbound
	// on it), and read by finish after Run returned.
	phase    callPhase
	rec      CallRecord
	sess     agent.Session
	agentCfg *runtimeapi.Agent // the agent's configuration, once looked up
	recMeta  recording.Meta
	recw     atomic.Pointer[recording.Writer] // the call's recording, when its agent records
	timer    *time.Timer                      // ends the call at its maximum duration

	// progressStop stops the goroutine sending the settled transcript
	// while the call runs (nil when the agent keeps none); progressDone
	// is closed when it has returned.
	progressStop, progressDone chan struct{}

	lastMedia atomic.Int64           // unix nanoseconds of the last caller media; 0 before answer
	id        atomic.Pointer[string] // set on begin, for the stall watcher
	stalled   bool                   // reported stalled; touched only by the stall watcher

	endOnce sync.Once // the first end wins
}

// newCall makes a call on admission gen carried by leg; source names the
// route ("twilio", "attach", …).
func (w *Worker) newCall(gen uint64, source string, leg Leg) *call {
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &call{w: w, gen: gen, leg: leg, ctx: ctx, cancel: cancel,
		rec: CallRecord{Source: source, Started: time.Now()}}
	c.rec.Carrier, c.rec.Direction = carrierOf(source)
	c.logp.Store(w.log)
	return c
}

// carrierOf says how a call of route source reaches the worker.
func carrierOf(source string) (carrier, direction string) {
	switch source {
	case runtimeapi.CarrierTwilio, runtimeapi.CarrierExotel, runtimeapi.CarrierPlivo, runtimeapi.CarrierTelnyx, runtimeapi.CarrierVonage:
		return source, ""
	case "attach", "dialout":
		return runtimeapi.CarrierSIP, runtimeapi.Outbound
	case "dispatch":
		return runtimeapi.CarrierSIP, runtimeapi.Inbound
	case "widget":
		return runtimeapi.CarrierWidget, runtimeapi.Inbound
	}
	return "", ""
}

// log is the call's logger.
func (c *call) log() *slog.Logger { return c.logp.Load() }

// end ends the call for e unless it has already ended; the leg's Run sees
// its context end.
func (c *call) end(e End) {
	c.endOnce.Do(func() { c.cancel(&ended{e}) })
}

// run carries the call until it ends, then finishes it (record, lifeline,
// slot). It blocks until the slot is free.
func (c *call) run() {
	end := endLost
	runDone := make(chan struct{})
	watchDone := make(chan struct{})
	go c.watch(runDone, watchDone)
	c.timer = time.AfterFunc(c.w.cfg.MaxCallDuration, func() { c.end(endMaxDuration) })
	func() {
		defer func() {
			if p := recover(); p != nil {
				c.log().Error("call panic", "call_id", c.rec.CallID, "panic", fmt.Sprint(p))
				end = endAgentError
			}
		}()
		if c.phase == phaseBegun {
			// A call known at admission: its agent is looked up while the
			// leg joins, not once the caller waits for the greeting.
			c.configureOrEnd()
		}
		end = c.leg.Run(c.ctx, c.inbound())
	}()
	c.timer.Stop()
	close(runDone)
	<-watchDone
	c.finish(end)
}

// watch flags a call whose caller media stopped advancing for StallAfter
// (and flowing again), and ends it after StallEnd. It returns once runDone
// is closed.
func (c *call) watch(runDone <-chan struct{}, watchDone chan<- struct{}) {
	defer close(watchDone)
	tick := time.NewTicker(max(c.w.cfg.StallAfter/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-runDone:
			if c.stalled {
				c.w.callStalled(*c.id.Load(), false)
			}
			return
		case <-tick.C:
			c.watchStall()
		}
	}
}

// watchStall reports the call stalled once its media has not advanced for
// StallAfter, flowing again once it has, and ends it after StallEnd. Only
// the watcher goroutine calls it.
func (c *call) watchStall() {
	last := c.lastMedia.Load()
	if last == 0 {
		return // not answered
	}
	id := *c.id.Load()
	idle := time.Since(time.Unix(0, last))
	if idle >= c.w.cfg.StallEnd {
		c.end(endNoMedia)
	}
	switch stalled := idle >= c.w.cfg.StallAfter; {
	case stalled && !c.stalled:
		c.stalled = true
		c.w.callStalled(id, true)
	case !stalled && c.stalled:
		c.stalled = false
		c.w.callStalled(id, false)
	}
}

// begin makes the call known: the slot names it, the daemon hears of it.
func (c *call) begin(info CallInfo) {
	c.rec.CallID, c.rec.StreamSID, c.rec.Parameters = info.ID, info.StreamSID, info.Parameters
	if info.AgentID != "" {
		c.rec.AgentID = info.AgentID
	}
	c.logp.Store(c.w.log.With("call_id", info.ID))
	c.w.slot.setCallID(c.gen, info.ID)
	c.w.callStarted(info.ID)
	id := info.ID
	c.id.Store(&id)
	c.phase = phaseBegun
	c.w.record(c.rec)
}

// finish ends the leg and the session, reports the call and frees the slot.
func (c *call) finish(legEnd End) {
	end, ok := endOf(c.ctx)
	if !ok {
		end = legEnd
		if end.Cause == "" {
			end = endLost
		}
		c.end(end)
	}
	c.stopProgress()
	c.leg.Close(end)
	if c.sess != nil {
		if err := c.sess.Close(); err != nil {
			c.log().Warn("close session", "err", err)
		}
		if r, ok := c.sess.(agent.Reporter); ok {
			c.rec.Transcript, c.rec.Fields = reportOf(r.Report(), false)
		}
	}
	if c.phase >= phaseBegun {
		c.rec.Ended = time.Now()
		c.rec.Cause, c.rec.Code = end.Cause, end.Code
		c.rec.Outcome, c.rec.Reason = end.Cause.Outcome(), end.Reason
		c.finishRecording(c.rec.Status())
		c.w.callEnded(c.rec)
	} else {
		c.log().Info("call ended before it began", "cause", end.Cause, "reason", end.Reason)
	}
	c.phase = phaseEnded
	c.w.slot.release(c.gen)
}

// inbound is the call's Inbound side (its agent.Sink side is the call
// itself: the two share method names).
type inbound struct{ c *call }

func (c *call) inbound() Inbound { return inbound{c} }

// Begin implements Inbound.
func (in inbound) Begin(info CallInfo) error {
	if in.c.phase != phaseAdmitted {
		return errors.New("call already begun")
	}
	in.c.begin(info)
	return nil
}

// Answer implements Inbound: it makes and starts the agent session.
func (in inbound) Answer() error {
	c := in.c
	if c.phase != phaseBegun {
		return fmt.Errorf("answer in phase %d", c.phase)
	}
	c.phase = phaseAnswered
	c.rec.Answered = time.Now()
	c.w.record(c.rec)
	c.lastMedia.Store(time.Now().UnixNano())
	if err := c.configureOrEnd(); err != nil {
		return err
	}
	c.startRecording()
	factory := c.w.cfg.Agent
	var err error
	if c.agentCfg != nil && c.w.cfg.AgentFactory != nil {
		factory, err = c.w.cfg.AgentFactory(*c.agentCfg)
	}
	var sess agent.Session
	if err == nil {
		sess, err = factory.NewSession(agent.Call{ID: c.rec.CallID, AgentID: c.rec.AgentID,
			Parameters: c.rec.Parameters}, c)
	}
	if err == nil {
		c.sess = sess
		err = sess.Start(c.ctx)
	}
	if r, ok := sess.(agent.Reporter); ok && err == nil {
		c.startProgress(r)
	}
	if err != nil {
		c.log().Error("agent refused the call", "err", err)
		c.end(endAgentError)
		return fmt.Errorf("start session: %w", err)
	}
	return c.ctx.Err()
}

// configureOrEnd configures the call, or ends it when its agent cannot be
// known.
func (c *call) configureOrEnd() error {
	err := c.configure()
	if err != nil {
		c.log().Error("call refused", "err", err)
		c.end(End{Cause: CauseSetupFailed, Reason: "agent configuration unavailable"})
	}
	return err
}

// configure looks the call's agent up (unless known already) and applies
// its maximum call length. A Backend outage falls back on the host's cache;
// with neither, the call fails cleanly.
func (c *call) configure() error {
	if c.agentCfg == nil && c.w.cfg.Agents != nil && c.rec.AgentID != "" {
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		a, src, err := c.w.cfg.Agents.Agent(ctx, c.rec.AgentID)
		cancel()
		if err != nil {
			return fmt.Errorf("agent %s configuration: %w", c.rec.AgentID, err)
		}
		c.log().Info("agent configuration", "agent_id", a.ID, "from", src)
		c.agentCfg = &a
	}
	if a := c.agentCfg; a != nil && a.MaxCall() > 0 && a.MaxCall() < c.w.cfg.MaxCallDuration {
		c.timer.Reset(a.MaxCall())
	}
	return nil
}

// startRecording begins the call's recording when its agent records.
func (c *call) startRecording() {
	a := c.agentCfg
	if a == nil || !a.Recording || c.w.cfg.Recordings == nil {
		return
	}
	c.recMeta = recording.Meta{CallID: c.rec.CallID, OrgID: a.OrgID, AgentID: a.ID, StartedAt: c.rec.Answered}
	w, err := c.w.cfg.Recordings.Begin(c.recMeta)
	if err != nil {
		c.log().Error("recording not started", "err", err)
		return
	}
	c.recw.Store(w)
}

// finishRecording closes the recording and spools its upload.
func (c *call) finishRecording(status string) {
	w := c.recw.Swap(nil)
	if w == nil {
		return
	}
	if err := c.w.cfg.Recordings.Finish(w, c.recMeta, status); err != nil {
		c.log().Error("recording not finished", "err", err)
	}
}

// CallerAudio implements Inbound.
func (in inbound) CallerAudio(pcm []int16) error {
	if in.c.sess == nil {
		return errCallEnded
	}
	if w := in.c.recw.Load(); w != nil {
		w.Caller(pcm)
	}
	in.c.lastMedia.Store(time.Now().UnixNano())
	return in.c.agentDid(in.c.sess.OnAudio(in.c.ctx, pcm))
}

// CallerDTMF implements Inbound.
func (in inbound) CallerDTMF(digit string) error {
	if in.c.sess == nil {
		return errCallEnded
	}
	return in.c.agentDid(in.c.sess.OnDTMF(in.c.ctx, digit))
}

// MarkPlayed implements Inbound.
func (in inbound) MarkPlayed(name string) error {
	if in.c.sess == nil {
		return errCallEnded
	}
	return in.c.agentDid(in.c.sess.OnMark(in.c.ctx, name))
}

// agentDid turns what the session answered into what the leg is told: an
// error ends the call with an agent error unless the call was already
// ending (the sink refused because of it), and a call that ended meanwhile
// (the agent hung up) is reported too.
func (c *call) agentDid(err error) error {
	if err != nil {
		if _, ok := endOf(c.ctx); !ok {
			c.log().Error("agent failed", "err", err)
			c.end(endAgentError)
		}
		return err
	}
	if c.ctx.Err() != nil {
		return errCallEnded
	}
	return nil
}

// Audio implements agent.Sink.
func (c *call) Audio(pcm []int16) error {
	if c.ctx.Err() != nil {
		return errCallEnded
	}
	if w := c.recw.Load(); w != nil {
		w.Agent(pcm)
	}
	return c.leg.Audio(pcm)
}

// Mark implements agent.Sink.
func (c *call) Mark(name string) error {
	if c.ctx.Err() != nil {
		return errCallEnded
	}
	return c.leg.Mark(name)
}

// Clear implements agent.Sink.
func (c *call) Clear() error {
	if c.ctx.Err() != nil {
		return errCallEnded
	}
	if w := c.recw.Load(); w != nil {
		w.ClearAgent()
	}
	return c.leg.Clear()
}

// Hangup implements agent.Sink.
func (c *call) Hangup(reason string) {
	c.log().Info("agent hangs up", "reason", reason)
	c.end(endAgentHangup)
}

// progressEvery is how often a call's settled transcript is looked at and,
// when it grew, recorded.
var progressEvery = time.Second

// startProgress records the call's transcript as it settles, so that a
// worker that dies mid-call leaves what its agent knew (the Backend merges
// entries by Seq). It stops before the final record (stopProgress).
func (c *call) startProgress(r agent.Reporter) {
	c.progressStop, c.progressDone = make(chan struct{}), make(chan struct{})
	rec := c.rec // the answered record; the goroutine owns this copy
	rec.Transcript, rec.Fields = nil, nil
	go func() {
		defer close(c.progressDone)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		sent, sentFields := 0, map[string]string(nil)
		for {
			select {
			case <-c.progressStop:
				return
			case <-t.C:
			}
			tr, fields := reportOf(r.Report(), true)
			if len(tr) == sent && maps.Equal(fields, sentFields) {
				continue
			}
			rec.Transcript, rec.Fields = tr, fields
			c.w.record(rec)
			sent, sentFields = len(tr), fields
		}
	}()
}

// stopProgress stops the progress goroutine and waits for it, so that no
// in-progress record can follow the final one.
func (c *call) stopProgress() {
	if c.progressStop == nil {
		return
	}
	close(c.progressStop)
	<-c.progressDone
	c.progressStop = nil
}
