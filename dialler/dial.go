package dialler

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Dial is one attempt to call one contact. Its names are derived from the
// contact and the attempt number only, so that every retry of the same
// attempt (after a crash, by another leader) reuses them: they are the
// attempt's idempotency keys.
type Dial struct {
	CallID      string // the call record's id and the worker's call_id
	Room        string // the LiveKit room of the call
	Identity    string // the callee's participant identity in the room
	OrgID       string
	CampaignID  string
	ContactID   string
	AgentID     string
	Attempt     int
	To          string // E.164
	From        string // caller id, E.164 or empty
	TrunkID     string // LiveKit outbound SIP trunk
	RingTimeout time.Duration
	MaxCall     time.Duration
}

// Names returns the call id, room and participant identity of attempt
// number attempt to contactID.
func Names(contactID string, attempt int) (callID, room, identity string) {
	key := fmt.Sprintf("%s-%d", contactID, attempt)
	return "dial-" + key, "vox-dial-" + key, "callee-" + key
}

// Result is how a placed call went.
type Result int

const (
	// Answered: the callee picked up; the call waits in its room.
	Answered Result = iota
	// NoAnswer: it rang until the ringing timeout.
	NoAnswer
	// Busy: the callee's line was busy (SIP 486/600).
	Busy
	// Failed: the call could not be placed or was refused.
	Failed
)

// String names the result for logs and metrics.
func (r Result) String() string {
	switch r {
	case Answered:
		return "answered"
	case NoAnswer:
		return "no_answer"
	case Busy:
		return "busy"
	default:
		return "failed"
	}
}

// Placed is a Placer's answer.
type Placed struct {
	Result    Result
	SIPStatus int           // the final SIP status (200 when answered), 0 when unknown
	Ring      time.Duration // from placing to answer or giving up
	Reason    string        // a short explanation for the record when not answered
}

// Placer places SIP calls.
type Placer interface {
	// Place dials d and returns once it is answered or has ended. An
	// error means it could not be tried at all.
	Place(ctx context.Context, d Dial) (Placed, error)
	// Hangup ends d's call (after an abandon) and removes its room.
	Hangup(ctx context.Context, d Dial) error
	// Live reports whether d's call is still up: the recovery of an
	// expired lease asks before it lets the contact be dialled again.
	Live(ctx context.Context, d Dial) (bool, error)
}

// ErrNoWorker is an Attacher's answer when no fleet host has a free worker:
// the answered call is abandoned.
var ErrNoWorker = errors.New("no free worker on any fleet")

// Attacher hands answered calls to fleet workers.
type Attacher interface {
	// Attach hands d to a free worker of a fleet of d.OrgID (trying the
	// next host when one is full) and returns the fleet's URL, or
	// ErrNoWorker.
	Attach(ctx context.Context, d Dial) (fleetURL string, err error)
}

// Pool is the capacity of the fleets an organisation's calls may use.
type Pool struct {
	Free int // workers ready for a call
	Busy int // workers in a call
	// AsOf is when the reading was taken (the oldest reading it sums);
	// zero means it is exact now. Calls attached since are taken off Free.
	AsOf time.Time
}

// Capacity reads fleet capacity, as the Backend last polled it.
type Capacity interface {
	Pool(ctx context.Context, orgID string) (Pool, error)
}
