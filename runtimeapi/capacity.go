package runtimeapi

import "time"

// PathFleetCapacity is GET /runtime/fleets/capacity?org_id=…
const PathFleetCapacity = "/runtime/fleets/capacity"

// FleetCapacity is the body of GET /runtime/fleets/capacity?org_id=…: the
// workers of every fleet host a call of that organisation may use (its own
// fleets and the platform's), summed over the healthy hosts as the Backend
// last polled them. The Dialler paces with it.
type FleetCapacity struct {
	// CheckedAt is when the oldest of the readings summed was taken: calls
	// attached since are not in it.
	CheckedAt time.Time `json:"checked_at,omitzero"`
	Free      int       `json:"free"`    // workers ready for a call
	Busy      int       `json:"busy"`    // workers in a call
	Fleets    int       `json:"fleets"`  // hosts the organisation may use
	Healthy   int       `json:"healthy"` // of which answered their last poll
}
