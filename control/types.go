package control

import (
	"errors"
	"fmt"
)

// Worker states as reported in Fleet.Workers.
const (
	StateStarting = "starting" // spawned, not yet answering /health
	StateReady    = "ready"    // idle and routable: may be offered a call
	StateBusy     = "busy"     // in a call
	StateDraining = "draining" // finishing its call, takes no new one
	StateBackoff  = "backoff"  // dead, waiting to restart
	StateFailed   = "failed"   // crash-looping, given up until an operator acts
	StateHeld     = "held"     // a worker of an earlier daemon still finishing a call on this index
	StateStopped  = "stopped"  // drained by an operator; `voxfleet restart I` brings it back
)

// ReasonScaledDown is the Reason of a worker leaving after a scale-down.
const ReasonScaledDown = "scaled down"

// Fleet statuses.
const (
	StatusOK       = "ok"       // every desired worker is up
	StatusDegraded = "degraded" // some workers are up, not all
	StatusDown     = "down"     // no worker is up
)

// Worker is one process (or one empty slot) of the fleet.
type Worker struct {
	Index  int    `json:"index"`
	PID    int    `json:"pid"`
	State  string `json:"state"`
	CallID string `json:"call_id"`
	// CallS is how long the current call has lasted, in seconds.
	CallS float64 `json:"call_s,omitempty"`
	// Restarts counts unexpected deaths on this index; like Calls it is kept
	// for the index across replacements of its worker.
	Restarts int `json:"restarts"`
	// UptimeS is the worker process's age; 0 when no process runs.
	UptimeS float64 `json:"uptime_s"`
	Version string  `json:"version"`
	// Calls counts the calls ended on this index (on a retired worker's
	// line: that process's own calls).
	Calls int `json:"calls"`
	// Retired is true for a worker that was replaced and is finishing its
	// last call; it no longer counts toward the desired count.
	Retired bool   `json:"retired,omitempty"`
	Reason  string `json:"reason,omitempty"` // why backoff, failed or stopped
	Stalled bool   `json:"stalled,omitempty"`
	// NotRouted is true for a worker that is up but not in the upstream set
	// nginx routes to (the latest set is not applied yet, or failed to apply).
	NotRouted bool `json:"not_routed,omitempty"`
}

// Upstream is the state of the nginx upstream as /health/fleet reports it.
type Upstream struct {
	// Applied is true when nginx routes to the current set of routable
	// workers; false while a new set waits to be applied or failed to be.
	Applied bool `json:"applied"`
	// Servers counts the worker sockets in the set nginx routes to.
	Servers int `json:"servers"`
	// Error is why the last apply failed (nginx not running, a failed
	// test…); empty when it succeeded.
	Error string `json:"error,omitempty"`
}

// Fleet is the answer of GET /health/fleet and of `voxfleet status`.
// Free is what fleet selection reads: idle workers that nginx routes to, so
// that may take a call now.
type Fleet struct {
	Status    string `json:"status"`
	DaemonPID int    `json:"daemon_pid"`
	Desired   int    `json:"desired"`
	Ready     int    `json:"ready"`
	Busy      int    `json:"busy"`
	Free      int    `json:"free"`
	Draining  int    `json:"draining"`
	Failed    int    `json:"failed"`
	Version   string `json:"version"`
	// Binary is the daemon's executable on disk: what `voxfleet upgrade`
	// re-executes.
	Binary  string   `json:"binary,omitempty"`
	Workers []Worker `json:"workers"`
	// Rollout is the restart or upgrade under way, or else the last one.
	Rollout *Rollout `json:"rollout,omitempty"`
	// Upstream is the nginx upstream's state; absent when the daemon does
	// not track it.
	Upstream *Upstream `json:"upstream,omitempty"`
}

// Rollout reports a restart or an upgrade of the workers.
type Rollout struct {
	Kind     string `json:"kind"` // "restart" or "upgrade"
	Version  string `json:"version,omitempty"`
	Total    int    `json:"total"`
	Replaced int    `json:"replaced"`
	Done     bool   `json:"done"`
	Error    string `json:"error,omitempty"`
	Message  string `json:"message,omitempty"`
}

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

// ErrorBody is the body of every failed control request.
type ErrorBody struct {
	Error string `json:"error"`
}
