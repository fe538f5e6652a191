package callslot

import (
	"context"
	"time"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/fleetapi"
)

// CallRecord is what a worker knows about a finished call.
type CallRecord struct {
	CallID     string            `json:"call_id"`
	Source     string            `json:"source"` // "twilio" or "attach"
	AgentID    string            `json:"agent_id,omitempty"`
	StreamSID  string            `json:"stream_sid,omitempty"`
	Parameters map[string]string `json:"parameters,omitempty"`
	Started    time.Time         `json:"started"`
	Ended      time.Time         `json:"ended"`
	Outcome    string            `json:"outcome"` // lifeline.OutcomeCompleted or OutcomeFailed
	Reason     string            `json:"reason"`  // why the call ended, for people
}

// Seconds is the call's duration.
func (r CallRecord) Seconds() float64 { return r.Ended.Sub(r.Started).Seconds() }

// CallRecorder receives each finished call's record. Delivering records to
// the Backend (and recordings to MinIO), with spooling while either is
// down, is a later issue; until then Config.Recorder is nil and records go
// only to the log. RecordCall must not block for long: the slot is freed
// after it returns.
type CallRecorder interface {
	RecordCall(ctx context.Context, rec CallRecord) error
}

// RoomMedia carries an attached call's audio through a LiveKit room,
// between the room's caller and a session made by factory, until the call
// ends or ctx ends. The LiveKit issue provides it; without it /attach
// answers 503.
type RoomMedia interface {
	Serve(ctx context.Context, req fleetapi.AttachRequest, factory agent.Factory) error
}
