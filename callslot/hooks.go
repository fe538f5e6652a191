package callslot

import (
	"context"
	"time"

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
	Answered   time.Time         `json:"answered,omitempty"` // zero when the caller never came
	Ended      time.Time         `json:"ended"`
	Cause      EndCause          `json:"cause"`
	Code       int               `json:"code,omitempty"` // the carrier's status: WebSocket close code, SIP status
	Outcome    string            `json:"outcome"`        // Cause.Outcome(): lifeline.OutcomeCompleted or OutcomeFailed
	Reason     string            `json:"reason"`         // why the call ended, for people
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

// RoomMedia makes the legs of calls carried through LiveKit rooms; without
// it the LiveKit routes answer 503.
type RoomMedia interface {
	// AttachLeg returns the leg of the answered call waiting in req.Room.
	// It returns at once: the leg's Run joins the room and answers the call
	// when the callee is there.
	AttachLeg(req fleetapi.AttachRequest) (Leg, error)
}
