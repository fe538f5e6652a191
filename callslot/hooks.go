package callslot

import (
	"context"

	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/recording"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/runtimeclient"
)

// RoomMedia makes the legs of calls carried through LiveKit rooms (LiveKit
// implements it); without it the LiveKit routes answer 503. The Leg
// methods return at once: a leg's Run places the call, joins the room and
// answers when the caller is there.
type RoomMedia interface {
	// AttachLeg is the leg of the answered call waiting in req.Room.
	AttachLeg(req fleetapi.AttachRequest) (Leg, error)
	// DialoutLeg places req's SIP call and carries it.
	DialoutLeg(req fleetapi.DialoutRequest) (Leg, error)
	// WidgetLeg waits for a browser caller in req.Room and carries the call.
	WidgetLeg(req fleetapi.WidgetRequest) (Leg, error)
	// Inbound verifies a /livekit/dispatch webhook (LiveKit's signature)
	// and returns the inbound SIP call it announces; ok is false for any
	// other event.
	Inbound(body []byte, authorization string) (call InboundCall, ok bool, err error)
	// InboundLeg carries an inbound SIP call.
	InboundLeg(call InboundCall) (Leg, error)
	// Refuse removes an inbound call this worker cannot take.
	Refuse(ctx context.Context, call InboundCall) error
}

// Recordings records calls on disk and spools their upload
// (*recording.Uploader implements it; the daemon uploads).
type Recordings interface {
	Begin(m recording.Meta) (*recording.Writer, error)
	Finish(w *recording.Writer, m recording.Meta, status string) error
}

// Agents looks agent configurations up in the Backend, falling back on the
// host's cache (runtimeclient.Agents implements it).
type Agents interface {
	Agent(ctx context.Context, id string) (runtimeapi.Agent, runtimeclient.Source, error)
	AgentByNumber(ctx context.Context, e164 string) (runtimeapi.Agent, runtimeclient.Source, error)
}
