package control

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

// Fleet statuses.
const (
	StatusOK       = "ok"       // every desired worker is up
	StatusDegraded = "degraded" // some workers are up, not all
	StatusDown     = "down"     // no worker is up
)

// Worker is one process (or one empty slot) of the fleet.
type Worker struct {
	Index    int     `json:"index"`
	PID      int     `json:"pid"`
	State    string  `json:"state"`
	CallID   string  `json:"call_id"`
	Restarts int     `json:"restarts"`
	UptimeS  float64 `json:"uptime_s"`
	Version  string  `json:"version"`
	Calls    int     `json:"calls"`
	// Retired is true for a worker that was replaced and is finishing its
	// last call; it no longer counts toward the desired count.
	Retired bool   `json:"retired,omitempty"`
	Reason  string `json:"reason,omitempty"` // why backoff, failed or stopped
	Stalled bool   `json:"stalled,omitempty"`
}

// Fleet is the answer of GET /health/fleet and of `voxfleet status`.
// Free is what fleet selection reads: ready workers that may take a call now.
type Fleet struct {
	Status    string   `json:"status"`
	DaemonPID int      `json:"daemon_pid"`
	Desired   int      `json:"desired"`
	Ready     int      `json:"ready"`
	Busy      int      `json:"busy"`
	Free      int      `json:"free"`
	Draining  int      `json:"draining"`
	Failed    int      `json:"failed"`
	Version   string   `json:"version"`
	Workers   []Worker `json:"workers"`
	// Rollout is the restart or upgrade under way, or else the last one.
	Rollout *Rollout `json:"rollout,omitempty"`
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

// ScaleRequest asks for a new desired worker count.
type ScaleRequest struct {
	Workers int `json:"workers"`
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

// DrainRequest asks to take one worker out of service after its call.
type DrainRequest struct {
	Index int `json:"index"`
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
