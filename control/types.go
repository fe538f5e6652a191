package control

import (
	"errors"
	"fmt"
)

// ReasonScaledDown is the Reason of a worker leaving after a scale-down.
const ReasonScaledDown = "scaled down"

// The fleet's state (`voxfleet status`, GET /v1/status) is fleetapi.Fleet,
// the same body as GET /health/fleet.

// MaxWorkers bounds the desired worker count of one host.
const MaxWorkers = 1024

// ScaleRequest asks for a new desired worker count. Workers is required: a
// request without it is refused rather than read as 0.
type ScaleRequest struct {
	Workers *int `json:"workers"`
}

// Validate checks that Workers is present and within 0..MaxWorkers.
func (r ScaleRequest) Validate() error {
	switch {
	case r.Workers == nil:
		return errors.New(`"workers" is required`)
	case *r.Workers < 0 || *r.Workers > MaxWorkers:
		return fmt.Errorf("worker count must be between 0 and %d, got %d", MaxWorkers, *r.Workers)
	}
	return nil
}

// ScaleResponse reports the change.
type ScaleResponse struct {
	Previous int `json:"previous"`
	Desired  int `json:"desired"`
}

// RestartRequest asks to replace workers. No indices means every worker.
// Rolling replaces one at a time; otherwise all at once. Either way a
// replacement is ready before the worker it replaces stops taking calls.
type RestartRequest struct {
	Indices []int `json:"indices,omitempty"`
	Rolling bool  `json:"rolling,omitempty"`
}

// Validate checks that every index is a worker index (1 or more).
func (r RestartRequest) Validate() error { return validIndices(r.Indices) }

// DrainRequest asks to take workers out of service after their calls: the
// one at Index, or every one in Indices. Exactly one of the two is set.
type DrainRequest struct {
	Index   int   `json:"index,omitempty"`
	Indices []int `json:"indices,omitempty"`
}

// Validate checks that exactly one of Index and Indices names workers.
func (r DrainRequest) Validate() error {
	switch {
	case r.Index == 0 && len(r.Indices) == 0:
		return errors.New(`"index" or "indices" is required`)
	case r.Index != 0 && len(r.Indices) > 0:
		return errors.New(`give "index" or "indices", not both`)
	case r.Index != 0:
		return validIndices([]int{r.Index})
	}
	return validIndices(r.Indices)
}

// All lists the indices r names.
func (r DrainRequest) All() []int {
	if r.Index != 0 {
		return []int{r.Index}
	}
	return r.Indices
}

// UpgradeRequest asks the daemon to re-execute itself from its binary on
// disk; it carries no field today and is sent as {}.
type UpgradeRequest struct{}

// Validate accepts the empty request.
func (UpgradeRequest) Validate() error { return nil }

func validIndices(idx []int) error {
	for _, i := range idx {
		if i < 1 || i > MaxWorkers {
			return fmt.Errorf("worker index must be between 1 and %d, got %d", MaxWorkers, i)
		}
	}
	return nil
}

// Progress is one line of a streamed operation. The last line has Done set,
// and Error set when the operation failed.
type Progress struct {
	Index   int    `json:"index,omitempty"`
	Version string `json:"version,omitempty"` // an upgrade's target version
	Step    string `json:"step"`
	Message string `json:"message"`
	Done    bool   `json:"done,omitempty"`
	Error   string `json:"error,omitempty"`
}
