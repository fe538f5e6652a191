package roomleg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/lkapi"
)

// Cause is why a leg ended.
type Cause string

// The causes a leg ends with.
const (
	CauseCallerLeft   Cause = "caller_left"   // the caller left the room (a phone hung up)
	CauseRoomDeleted  Cause = "room_deleted"  // someone deleted the room
	CauseHangup       Cause = "agent_hangup"  // the agent hung up
	CauseMaxDuration  Cause = "max_duration"  // the call reached Config.MaxDuration
	CauseNoCaller     Cause = "no_caller"     // no caller joined within Config.CallerTimeout
	CauseCanceled     Cause = "canceled"      // Run's context ended
	CauseDisconnected Cause = "disconnected"  // the agent lost the room for another reason
	CauseFailed       Cause = "session_error" // the agent session returned an error
)

// Tap sees both sides of the call as 8 kHz mono PCM, for recording. Its
// methods are called from the leg's goroutines and must not block.
type Tap interface {
	// CallerAudio is the caller's audio as it arrives.
	CallerAudio(pcm []int16)
	// AgentAudio is the agent's audio as it is handed to the room.
	AgentAudio(pcm []int16)
}

// Config describes one leg.
type Config struct {
	LiveKit  lkapi.Config
	Room     string // the room to join
	Identity string // the agent's participant identity
	Name     string // its display name (optional)
	// Caller is the caller's identity; "" takes the first participant that
	// is not an agent.
	Caller string
	// CallerTimeout bounds the wait for the caller to join; 0 means 30 s.
	CallerTimeout time.Duration
	// MaxDuration ends the call this long after the caller joined; 0 means
	// no limit.
	MaxDuration time.Duration
	// SinglePeerConnection publishes and subscribes over one
	// PeerConnection instead of the SDK's two. Joins then skip a second ICE
	// negotiation, which took about a second in most joins here
	// (docs/BENCHMARKS.md); the fleet's workers use it (callslot). pion
	// v4.2.19 had a data race on this path (an early RTP packet read by two
	// goroutines, about once in thirty legs); none was seen since v4.2.26.
	// A failed join is retried (JoinAttempts).
	SinglePeerConnection bool
	// JoinAttempts is how often to try joining; 0 means 3.
	JoinAttempts int
	// DeleteRoom ends the call by deleting the room, which hangs up a SIP
	// participant (removing a ringing one may leave the phone ringing).
	DeleteRoom bool
	// Tap, when set, sees both sides' audio.
	Tap Tap
	// OpusComplexity is the agent's encoder complexity, 1-10; 0 means
	// DefaultOpusComplexity.
	OpusComplexity int
}

func (c *Config) defaults() {
	if c.CallerTimeout <= 0 {
		c.CallerTimeout = 30 * time.Second
	}
	if c.JoinAttempts <= 0 {
		c.JoinAttempts = 3
	}
	if c.Name == "" {
		c.Name = c.Identity
	}
	if c.OpusComplexity <= 0 {
		c.OpusComplexity = DefaultOpusComplexity
	}
}

// Result is what happened on a leg.
type Result struct {
	Cause  Cause
	Reason string // detail: the hangup reason, the error
	Caller string // the caller's identity, "" if none joined
	// Joined is when the agent was in the room with its track bound;
	// CallerJoined when the caller was there; FirstAudio when the agent's
	// first audio went to the room. Zero when it did not happen.
	Joined, CallerJoined, FirstAudio time.Time
	// Heard and Played count the caller's and the agent's samples (8 kHz).
	Heard, Played int64
	// CallerPackets is how many RTP packets the caller sent (by sequence
	// number), Arrived how many reached the leg, Decoded how many the
	// jitter buffer passed on in time.
	CallerPackets, Arrived, Decoded int64
}

// ErrEnded is returned by the Sink methods once the leg has ended.
var ErrEnded = errors.New("roomleg: call ended")

// Rate is the sample rate of every sample slice the leg takes and gives.
const Rate = agent.SampleRate

// Leg is one agent participant in one room.
type Leg struct {
	cfg  Config
	log  *slog.Logger
	api  *lkapi.Client
	room *lksdk.Room

	track *outTrack
	pace  *pacer

	events chan event
	done   chan struct{} // closed by end
	wg     sync.WaitGroup

	// heardBy is closed once someone subscribed to the agent's track: audio
	// sent before that is lost to them.
	heardBy   chan struct{}
	heardOnce sync.Once

	endOnce   sync.Once
	endCause  Cause
	endReason string

	mu      sync.Mutex // guards caller, remotes, closed
	caller  string
	remotes []*inTrack
	// subscribed holds the caller's tracks already decoded.
	subscribed map[string]bool
	closed     bool
	joinedAt   time.Time
	heard      int64
}

type eventKind int

const (
	evCallerJoined eventKind = iota
	evCallerLeft
	evAudio
	evDTMF
	evMark
	evDisconnected
)

type event struct {
	kind eventKind
	text string // identity, digit, mark name or reason
	pcm  []int16
}

// post hands an event to Run's loop; audio is dropped (and counted) rather
// than blocking the media path when the loop falls behind.
func (l *Leg) post(ev event) {
	select {
	case <-l.done:
		return
	default:
	}
	if ev.kind == evAudio {
		select {
		case l.events <- ev:
		default:
			l.log.Warn("caller audio dropped: agent too slow", "samples", len(ev.pcm))
		}
		return
	}
	select {
	case l.events <- ev:
	case <-l.done:
	}
}

func (l *Leg) markPlayed(name string) { l.post(event{kind: evMark, text: name}) }

// end records the first cause and stops the leg's loops.
func (l *Leg) end(c Cause, reason string) {
	l.endOnce.Do(func() {
		l.endCause, l.endReason = c, reason
		close(l.done)
	})
}

// Audio implements agent.Sink: samples at 8 kHz are queued and played in
// real time.
func (l *Leg) Audio(pcm []int16) error {
	if l.ended() {
		return ErrEnded
	}
	l.pace.audio(pcm)
	return nil
}

// Mark implements agent.Sink: the session's OnMark gets name once the audio
// queued before it has played (or was cleared).
func (l *Leg) Mark(name string) error {
	if l.ended() {
		return ErrEnded
	}
	l.pace.mark(name)
	return nil
}

// Clear implements agent.Sink: audio not yet played is dropped.
func (l *Leg) Clear() error {
	if l.ended() {
		return ErrEnded
	}
	l.pace.clear()
	return nil
}

// Hangup implements agent.Sink: the leg ends with CauseHangup.
func (l *Leg) Hangup(reason string) { l.end(CauseHangup, reason) }

func (l *Leg) ended() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// Run waits for the caller, runs a session from factory for call until the
// leg ends, then closes the leg (and deletes the room when configured).
// The error is non-nil only when the session could not be made.
func (l *Leg) Run(ctx context.Context, factory agent.Factory, call agent.Call) (Result, error) {
	defer l.Close()
	sess, err := factory.NewSession(call, l)
	if err != nil {
		l.end(CauseFailed, err.Error())
		return l.result(time.Time{}), fmt.Errorf("new session: %w", err)
	}
	defer sess.Close()
	callerJoined := l.waitCaller(ctx)
	if callerJoined.IsZero() {
		return l.result(callerJoined), nil
	}
	l.waitListener(ctx)
	if err := sess.Start(ctx); err != nil {
		l.end(CauseFailed, err.Error())
		return l.result(callerJoined), nil
	}
	var maxC <-chan time.Time
	if l.cfg.MaxDuration > 0 {
		t := time.NewTimer(l.cfg.MaxDuration - time.Since(callerJoined))
		defer t.Stop()
		maxC = t.C
	}
	for {
		select {
		case <-l.done:
			return l.result(callerJoined), nil
		case <-ctx.Done():
			l.end(CauseCanceled, context.Cause(ctx).Error())
		case <-maxC:
			l.end(CauseMaxDuration, l.cfg.MaxDuration.String())
		case ev := <-l.events:
			if err := l.handle(ctx, sess, ev); err != nil {
				l.end(CauseFailed, err.Error())
			}
		}
	}
}

// waitCaller returns when the caller joined, or zero once the leg ended.
func (l *Leg) waitCaller(ctx context.Context) time.Time {
	t := time.NewTimer(l.cfg.CallerTimeout)
	defer t.Stop()
	for {
		select {
		case <-l.done:
			return time.Time{}
		case <-ctx.Done():
			l.end(CauseCanceled, context.Cause(ctx).Error())
		case <-t.C:
			l.end(CauseNoCaller, l.cfg.CallerTimeout.String())
		case ev := <-l.events:
			switch ev.kind {
			case evCallerJoined:
				l.log.Info("caller joined", "caller", ev.text)
				return time.Now()
			case evDisconnected:
				l.disconnected(ev.text)
			}
		}
	}
}

// listenerWait bounds the wait for the caller to subscribe to the agent's
// track before the greeting starts.
const listenerWait = 3 * time.Second

// waitListener waits, briefly, until the caller receives the agent's track,
// so that the greeting's first words are not sent to nobody.
func (l *Leg) waitListener(ctx context.Context) {
	t := time.NewTimer(listenerWait)
	defer t.Stop()
	select {
	case <-l.heardBy:
	case <-t.C:
		l.log.Warn("greeting starts before the caller subscribed to the agent's audio", "waited", listenerWait)
	case <-l.done:
	case <-ctx.Done():
	}
}

func (l *Leg) handle(ctx context.Context, sess agent.Session, ev event) error {
	switch ev.kind {
	case evAudio:
		l.mu.Lock()
		l.heard += int64(len(ev.pcm))
		l.mu.Unlock()
		return sess.OnAudio(ctx, ev.pcm)
	case evDTMF:
		return sess.OnDTMF(ctx, ev.text)
	case evMark:
		return sess.OnMark(ctx, ev.text)
	case evCallerLeft:
		l.callerLeft(ev.text)
	case evDisconnected:
		l.disconnected(ev.text)
	}
	return nil
}

// leftGrace is how long a caller's leaving waits for the room's own end:
// deleting a room first tells everyone that the others left.
const leftGrace = 300 * time.Millisecond

func (l *Leg) callerLeft(identity string) {
	t := time.NewTimer(leftGrace)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.end(CauseCallerLeft, identity)
			return
		case <-l.done:
			return
		case ev := <-l.events:
			if ev.kind == evDisconnected {
				l.disconnected(ev.text)
				return
			}
		}
	}
}

func (l *Leg) disconnected(reason string) {
	if reason == livekit.DisconnectReason_ROOM_DELETED.String() || reason == livekit.DisconnectReason_ROOM_CLOSED.String() {
		l.end(CauseRoomDeleted, reason)
		return
	}
	l.end(CauseDisconnected, reason)
}

func (l *Leg) result(callerJoined time.Time) Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := Result{
		Cause:        l.endCause,
		Reason:       l.endReason,
		Caller:       l.caller,
		Joined:       l.joinedAt,
		CallerJoined: callerJoined,
		Heard:        l.heard,
	}
	if l.pace != nil {
		r.Played, r.FirstAudio = l.pace.stats()
	}
	for _, rt := range l.remotes {
		sent, arrived := rt.arrived.span()
		_, decoded := rt.decoded.span()
		r.CallerPackets += sent
		r.Arrived += arrived
		r.Decoded += decoded
	}
	return r
}

// Close leaves the room and releases every track and goroutine; with
// Config.DeleteRoom it deletes the room. It is safe to call more than once
// and after Run.
func (l *Leg) Close() {
	l.end(CauseCanceled, "closed")
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	remotes := l.remotes
	l.remotes = nil
	l.mu.Unlock()
	l.wg.Wait() // the pacer: nothing writes to the track any more
	if l.api != nil && l.endCause != CauseRoomDeleted {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := l.api.DeleteRoom(ctx, l.cfg.Room); err != nil {
			l.log.Warn("delete room", "err", err)
		}
		cancel()
	}
	l.room.Disconnect()
	l.track.close()
	for _, rt := range remotes { // their reads end with the connection
		<-rt.done
	}
}
