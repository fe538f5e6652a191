package callslot

import (
	"context"
	"time"

	"github.com/voxplatform/vox/lifeline"
	"github.com/voxplatform/vox/runtimeapi"
)

// CallRecord is what a worker knows about a call. The worker reports it at
// each step of the call (begun, answered, ended) to Config.Recorder, which
// hands it on to the Backend as a runtimeapi.CallRecord (see Runtime).
type CallRecord struct {
	CallID     string            `json:"call_id"`
	Source     string            `json:"source"`  // the route: "twilio", "attach", "dialout", "widget", "dispatch"
	Carrier    string            `json:"carrier"` // runtimeapi.Carrier…
	Direction  string            `json:"direction,omitempty"`
	AgentID    string            `json:"agent_id,omitempty"`
	CampaignID string            `json:"campaign_id,omitempty"`
	ContactID  string            `json:"contact_id,omitempty"`
	From       string            `json:"from,omitempty"`
	To         string            `json:"to,omitempty"`
	Room       string            `json:"room,omitempty"`
	StreamSID  string            `json:"stream_sid,omitempty"`
	Parameters map[string]string `json:"parameters,omitempty"`
	Started    time.Time         `json:"started"`
	Answered   time.Time         `json:"answered,omitzero"` // zero until (unless) the caller is there
	Ended      time.Time         `json:"ended,omitzero"`    // zero until the call ends
	Cause      EndCause          `json:"cause,omitempty"`
	Code       int               `json:"code,omitempty"`    // the carrier's status: WebSocket close code, SIP status
	Outcome    string            `json:"outcome,omitempty"` // Cause.Outcome(): lifeline.OutcomeCompleted or OutcomeFailed
	Reason     string            `json:"reason,omitempty"`  // why the call ended, for people
}

// Seconds is the call's duration.
func (r CallRecord) Seconds() float64 { return r.Ended.Sub(r.Started).Seconds() }

// Status is the runtime status the record stands for.
func (r CallRecord) Status() string {
	switch {
	case r.Ended.IsZero() && r.Answered.IsZero():
		return runtimeapi.CallRinging
	case r.Ended.IsZero():
		return runtimeapi.CallInProgress
	case !r.Answered.IsZero():
		if r.Cause.Outcome() == lifeline.OutcomeCompleted {
			return runtimeapi.CallCompleted
		}
		return runtimeapi.CallFailed
	}
	switch r.Cause {
	case CauseBusy:
		return runtimeapi.CallBusy
	case CauseNoAnswer:
		return runtimeapi.CallNoAnswer
	case CauseCallerHangup:
		return runtimeapi.CallCanceled
	}
	return runtimeapi.CallFailed
}

// Runtime is the record as the Backend stores it (PUT /runtime/calls/{id});
// fleetURL names this fleet host.
func (r CallRecord) Runtime(fleetURL string) runtimeapi.CallRecord {
	out := runtimeapi.CallRecord{
		AgentID: r.AgentID, CampaignID: r.CampaignID, ContactID: r.ContactID,
		Direction: r.Direction, Carrier: r.Carrier, From: r.From, To: r.To,
		Status: r.Status(), FleetURL: fleetURL, StartedAt: r.Started, AnsweredAt: r.Answered, EndedAt: r.Ended,
	}
	if r.Ended.IsZero() {
		return out
	}
	out.EndCause = string(r.Cause)
	if r.Carrier == runtimeapi.CarrierSIP && r.Code >= 100 && r.Code <= 699 {
		out.SIPStatus = r.Code
	}
	if r.Cause.Outcome() != lifeline.OutcomeCompleted {
		out.Error = r.Reason
	}
	secs := func(d time.Duration) *float64 { s := d.Seconds(); return &s }
	out.DurationSeconds = secs(r.Ended.Sub(r.Started))
	if r.Answered.IsZero() {
		out.RingSeconds = secs(r.Ended.Sub(r.Started))
	} else {
		out.RingSeconds = secs(r.Answered.Sub(r.Started))
		out.TalkSeconds = secs(r.Ended.Sub(r.Answered))
	}
	return out
}

// CallRecorder receives a call's record at each step: when the call is
// known (Status ringing), answered (in-progress) and ended. It must not
// block for long (a spool write): the call waits for it, and after the last
// one the slot is freed.
type CallRecorder interface {
	RecordCall(ctx context.Context, rec CallRecord) error
}
