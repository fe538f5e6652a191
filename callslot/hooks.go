package callslot

import (
	"github.com/voxplatform/vox/fleetapi"
)

// RoomMedia makes the legs of calls carried through LiveKit rooms; without
// it the LiveKit routes answer 503.
type RoomMedia interface {
	// AttachLeg returns the leg of the answered call waiting in req.Room.
	// It returns at once: the leg's Run joins the room and answers the call
	// when the callee is there.
	AttachLeg(req fleetapi.AttachRequest) (Leg, error)
}
