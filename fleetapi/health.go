package fleetapi

// WorkerState is a worker's own view of its one call slot, as its GET
// /health reports it.
type WorkerState string

// Worker states of GET /health.
const (
	WorkerIdle     WorkerState = "idle"     // may take a call
	WorkerBusy     WorkerState = "busy"     // in a call
	WorkerDraining WorkerState = "draining" // finishing its call (if any), takes no new one
)

// Health is the body of a worker's GET /health (always 200).
type Health struct {
	State   WorkerState `json:"state"`
	CallID  string      `json:"call_id"`
	PID     int         `json:"pid"`
	Index   int         `json:"index"`
	Version string      `json:"version"`
}

// SlotState is the daemon's view of one worker index, as GET /health/fleet
// and `voxfleet status` report it.
type SlotState string

// Slot states of FleetWorker.State.
const (
	SlotStarting SlotState = "starting" // spawned, not yet answering /health
	SlotReady    SlotState = "ready"    // idle and routable: may be offered a call
	SlotBusy     SlotState = "busy"     // in a call
	SlotDraining SlotState = "draining" // finishing its call, takes no new one
	SlotBackoff  SlotState = "backoff"  // dead, waiting to restart
	SlotFailed   SlotState = "failed"   // crash-looping, given up until an operator acts
	SlotHeld     SlotState = "held"     // a worker of an earlier daemon still finishing a call on this index
	SlotStopped  SlotState = "stopped"  // drained by an operator; `voxfleet restart I` brings it back
)

// FleetStatus sums up a fleet host.
type FleetStatus string

// Fleet statuses.
const (
	FleetOK       FleetStatus = "ok"       // every desired worker is up
	FleetDegraded FleetStatus = "degraded" // some workers are up, not all
	FleetDown     FleetStatus = "down"     // no worker is up
)

// FleetWorker is one process (or one empty slot) of a fleet host.
type FleetWorker struct {
	Index  int       `json:"index"`
	PID    int       `json:"pid"`
	State  SlotState `json:"state"`
	CallID string    `json:"call_id"`
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

// Fleet is the body of the daemon's GET /health/fleet (200 while any worker
// is up, 503 when none is) and of `voxfleet status`. Free is what fleet
// selection reads: idle workers that nginx routes to, so that may take a
// call now.
type Fleet struct {
	Status    FleetStatus `json:"status"`
	DaemonPID int         `json:"daemon_pid"`
	Desired   int         `json:"desired"`
	Ready     int         `json:"ready"`
	Busy      int         `json:"busy"`
	Free      int         `json:"free"`
	Draining  int         `json:"draining"`
	Failed    int         `json:"failed"`
	Version   string      `json:"version"`
	// Binary is the daemon's executable on disk: what `voxfleet upgrade`
	// re-executes.
	Binary  string        `json:"binary,omitempty"`
	Workers []FleetWorker `json:"workers"`
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
