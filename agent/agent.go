package agent

import (
	"context"
	"time"
)

// Audio format of every sample slice in this package.
const (
	SampleRate = 8000
	// FrameSamples is 20 ms of audio, the unit carriers send.
	FrameSamples = SampleRate / 50
)

// Call describes the call a Session serves.
type Call struct {
	ID      string // the carrier's or the Dialler's call identifier
	AgentID string // which agent configuration to use; "" for the default
	// Parameters are carrier-supplied values (Twilio customParameters).
	Parameters map[string]string
}

// Sink is how a Session talks back to the caller. Its methods are safe for
// concurrent use; after the call ends they return an error and do nothing.
type Sink interface {
	// Audio queues samples for playback to the caller.
	Audio(pcm []int16) error
	// Mark queues a named point after the audio queued so far; the
	// Session's OnMark is called with the name once it has played (or been
	// cleared).
	Mark(name string) error
	// Clear drops audio queued but not yet played, for barge-in.
	Clear() error
	// Hangup ends the call; reason is logged.
	Hangup(reason string)
}

// Session is the agent for one call. The worker calls its methods from one
// goroutine, in the order events arrive, so a Session needs no locking of its
// own; a Session that works in the background must use the Sink, which is
// concurrency-safe, to answer.
type Session interface {
	// Start is called once when the call is answered.
	Start(ctx context.Context) error
	// OnAudio receives the caller's audio, usually 20 ms at a time.
	OnAudio(ctx context.Context, pcm []int16) error
	// OnDTMF receives one key press: 0-9, *, #, A-D.
	OnDTMF(ctx context.Context, digit string) error
	// OnMark reports that the audio before a mark has played.
	OnMark(ctx context.Context, name string) error
	// Close releases the session's resources when the call ends.
	Close() error
}

// Factory makes the Session for each call. An error refuses the call.
type Factory interface {
	NewSession(call Call, out Sink) (Session, error)
}

// samples converts a duration to a count of samples.
func samples(d time.Duration) int { return int(d * SampleRate / time.Second) }
