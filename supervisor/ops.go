package supervisor

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/voxplatform/vox/control"
	"github.com/voxplatform/vox/fleetapi"
)

// Scale sets the desired worker count, records it in the state file first,
// and brings the fleet to it: new workers start at the lowest free indices;
// on the way down idle workers are retired first and busy ones finish their
// call.
func (s *Supervisor) Scale(ctx context.Context, n int) (control.ScaleResponse, error) {
	if n < 0 || n > s.cfg.WorkerLimit {
		return control.ScaleResponse{}, badRequest("worker count must be between 0 and %d (--max-workers), got %d", s.cfg.WorkerLimit, n)
	}
	var resp control.ScaleResponse
	var opErr error
	err := s.call(ctx, func() {
		if s.stopping {
			opErr = &requestError{http.StatusServiceUnavailable, "voxfleet is stopping"}
			return
		}
		if err := saveState(s.cfg.StateFile, persisted{Desired: n}); err != nil {
			opErr = fmt.Errorf("scale not applied: %w", err)
			return
		}
		resp = control.ScaleResponse{Previous: s.desired, Desired: n}
		if n != s.desired {
			s.log.Info("scaling", "from", s.desired, "to", n)
		}
		s.desired = n
		s.reconcile()
	})
	if err != nil {
		return resp, err
	}
	return resp, opErr
}

// Drain takes the workers at indices out of routing; each finishes its
// call, exits, and its slot stays stopped until `voxfleet restart INDEX`.
// Every index is checked before any worker is drained.
func (s *Supervisor) Drain(ctx context.Context, indices ...int) error {
	var opErr error
	err := s.call(ctx, func() {
		for _, index := range indices {
			if sl := s.slots[index]; sl == nil || sl.retiring {
				opErr = &requestError{http.StatusNotFound, fmt.Sprintf("no worker %d", index)}
				return
			}
		}
		for _, index := range indices {
			s.drainSlot(s.slots[index])
		}
		s.afterChange()
	})
	if err != nil {
		return err
	}
	return opErr
}

// drainSlot stops routing to sl and lets its worker finish its call. Loop only.
func (s *Supervisor) drainSlot(sl *slot) {
	if sl.stopped {
		return
	}
	s.log.Info("draining worker on operator request", "index", sl.index)
	sl.stopped = true
	if sl.timer != nil {
		sl.timer.Stop()
	}
	if sl.next != nil {
		sl.next.stopReason = "drained"
		sl.next.killGroup()
	}
	if sl.cur != nil {
		s.stopProc(sl.cur, "drained by operator")
	} else {
		s.unbind(sl)
	}
	sl.reason = "drained by operator"
}

// rollout is a restart in progress: one worker at a time when rolling,
// otherwise all at once.
type rollout struct {
	queue   []int
	active  map[int]int // index → pid being replaced (0: any ready worker will do)
	rolling bool
	out     chan control.Progress
	started time.Time
	failed  []string
	total   int
	binary  string // what replacements run; the configured worker binary when ""

	kind     string // "restart" or "upgrade"
	version  string // for an upgrade: the version rolled out
	replaced int
	// An upgrade's canary: the first replacement must stay up for
	// CanaryPeriod before the others follow. prev is the previous release,
	// which new workers run again if the canary fails.
	canary      bool
	canaryPID   int
	canaryIndex int
	canaryUntil time.Time
	prev        string
}

// rolloutStatus reports the rollout under way, or the last one. Loop only.
func (s *Supervisor) rolloutStatus() *fleetapi.Rollout {
	r := s.roll
	if r == nil {
		return s.lastRoll
	}
	st := &fleetapi.Rollout{Kind: r.kind, Version: r.version, Total: r.total, Replaced: r.replaced}
	if len(r.failed) > 0 {
		st.Error = r.failed[0]
	}
	if r.canaryPID != 0 && time.Now().Before(r.canaryUntil) {
		st.Message = fmt.Sprintf("canary worker %d (pid %d) on probation until %s", r.canaryIndex, r.canaryPID,
			r.canaryUntil.Format(time.TimeOnly))
	}
	return st
}

func newRollout(idx []int, rolling bool) *rollout {
	return &rollout{queue: idx, active: map[int]int{}, rolling: rolling, total: len(idx), kind: "restart",
		out: make(chan control.Progress, 8*len(idx)+8), started: time.Now()}
}

// binaryFor is the binary r's replacements run.
func (s *Supervisor) binaryFor(r *rollout) string {
	if r.binary != "" {
		return r.binary
	}
	return s.binary
}

func (r *rollout) emit(p control.Progress) {
	select {
	case r.out <- p:
	default: // the client went away and stopped reading
	}
}

// Restart replaces the workers at req.Indices (all when empty) and streams
// progress. A running worker is replaced by starting a new one beside it and
// moving it onto the socket once it is ready; the old one then finishes its
// call. A failed, stopped or backed-off slot is simply started again.
func (s *Supervisor) Restart(ctx context.Context, req control.RestartRequest) (<-chan control.Progress, error) {
	var r *rollout
	var opErr error
	err := s.call(ctx, func() {
		switch {
		case s.stopping:
			opErr = &requestError{http.StatusServiceUnavailable, "voxfleet is stopping"}
			return
		case s.roll != nil:
			opErr = &requestError{http.StatusConflict, "a restart is already in progress"}
			return
		case s.upgrading:
			opErr = &requestError{http.StatusConflict, "an upgrade is in progress"}
			return
		}
		idx := slices.Clone(req.Indices)
		if len(idx) == 0 {
			for _, i := range s.indices() {
				if !s.slots[i].retiring {
					idx = append(idx, i)
				}
			}
		}
		slices.Sort(idx)
		idx = slices.Compact(idx)
		for _, i := range idx {
			if sl := s.slots[i]; sl == nil || sl.retiring {
				opErr = &requestError{http.StatusNotFound, fmt.Sprintf("no worker %d", i)}
				return
			}
		}
		r = newRollout(idx, req.Rolling)
		mode := "all at once"
		if req.Rolling {
			mode = "rolling, one at a time"
		}
		s.log.Info("restart", "workers", idx, "mode", mode)
		r.emit(control.Progress{Step: "plan", Message: fmt.Sprintf("replacing %d worker(s), %s", len(idx), mode)})
		s.roll = r
		s.advanceRollout()
	})
	if err != nil {
		return nil, err
	}
	if opErr != nil {
		return nil, opErr // refused: no rollout was started
	}
	return r.out, nil
}

// advanceRollout notes finished replacements and starts the next ones.
func (s *Supervisor) advanceRollout() {
	r := s.roll
	if r == nil {
		return
	}
	for i, oldPID := range r.active {
		sl := s.slots[i]
		switch {
		case sl == nil || sl.retiring:
			delete(r.active, i)
			r.emit(control.Progress{Index: i, Step: "skipped", Message: fmt.Sprintf("worker %d was scaled away", i)})
		case sl.nextFailed != "" || sl.failed:
			msg := sl.nextFailed
			if msg == "" {
				msg = fmt.Sprintf("worker %d failed: %s", i, sl.reason)
			}
			sl.nextFailed = ""
			delete(r.active, i)
			r.failed = append(r.failed, msg)
			r.emit(control.Progress{Index: i, Step: "failed", Message: msg})
		case sl.next == nil && sl.cur != nil && sl.cur.ready && sl.cur.pid != oldPID:
			delete(r.active, i)
			r.replaced++
			r.emit(control.Progress{Index: i, Step: "replaced",
				Message: fmt.Sprintf("worker %d: pid %d ready (version %s)", i, sl.cur.pid, sl.cur.version)})
			if r.canary && r.canaryPID == 0 {
				r.canaryPID, r.canaryIndex = sl.cur.pid, i
				r.canaryUntil = time.Now().Add(s.cfg.CanaryPeriod)
				r.emit(control.Progress{Index: i, Step: "canary",
					Message: fmt.Sprintf("worker %d is the canary: watching it for %s before the others follow", i, s.cfg.CanaryPeriod)})
				time.AfterFunc(s.cfg.CanaryPeriod, func() { s.post(s.advanceRollout) })
			}
		}
	}
	if r.canaryPID != 0 && len(r.failed) == 0 && time.Now().Before(r.canaryUntil) {
		return // the canary is on probation
	}
	if r.canary && r.canaryPID != 0 && len(r.failed) == 0 && r.binary != "" && s.binary != r.binary {
		s.binary = r.binary // the canary held: new workers run the new release from now on
		r.emit(control.Progress{Index: r.canaryIndex, Step: "canary", Message: "canary held: rolling the other workers"})
	}
	if s.stopping {
		r.failed = append(r.failed, "voxfleet is stopping")
		r.queue = nil
	}
	for len(r.queue) > 0 && (!r.rolling || (len(r.active) == 0 && len(r.failed) == 0)) {
		i := r.queue[0]
		if sl := s.slots[i]; sl != nil && sl.next != nil {
			break // a recycle started before the rollout is finishing; this index comes after it
		}
		r.queue = r.queue[1:]
		s.beginReplace(r, i)
	}
	if len(r.active) > 0 || (len(r.queue) > 0 && len(r.failed) == 0) {
		return
	}
	final := control.Progress{Step: "done", Done: true,
		Message: fmt.Sprintf("%d of %d worker(s) replaced in %s", r.replaced, r.total,
			time.Since(r.started).Round(time.Millisecond))}
	if len(r.failed) > 0 {
		final.Error = r.failed[0]
		if len(r.queue) > 0 {
			final.Error += fmt.Sprintf("; stopped with %d worker(s) not replaced, the old ones keep serving", len(r.queue))
		}
	}
	if len(r.failed) == 0 && r.kind == "upgrade" {
		s.upgradeHeld(r.version)
	}
	if len(r.failed) > 0 && r.prev != "" {
		// A failed upgrade: every worker started from now on runs the
		// previous release, so the old version keeps serving.
		s.binary = r.prev
		final.Error += fmt.Sprintf("; workers keep running the previous release (%s)", r.prev)
		s.log.Error("upgrade stopped; the previous release keeps serving", "err", final.Error)
	}
	r.emit(final)
	close(r.out)
	s.roll = nil
	s.lastRoll = &fleetapi.Rollout{Kind: r.kind, Version: r.version, Total: r.total, Replaced: r.replaced,
		Done: true, Error: final.Error, Message: final.Message}
}

// beginReplace starts replacing worker i for r.
func (s *Supervisor) beginReplace(r *rollout, i int) {
	sl := s.slots[i]
	if sl == nil || sl.retiring {
		r.emit(control.Progress{Index: i, Step: "skipped", Message: fmt.Sprintf("worker %d was scaled away", i)})
		return
	}
	sl.nextFailed = ""
	if sl.cur == nil || !sl.cur.ready || sl.cur.draining {
		if sl.held {
			msg := fmt.Sprintf("worker %d: index still held by a worker of an earlier daemon", i)
			r.failed = append(r.failed, msg)
			r.emit(control.Progress{Index: i, Step: "failed", Message: msg})
			return
		}
		if sl.cur != nil && sl.cur.draining {
			msg := fmt.Sprintf("worker %d is draining; it restarts once its call ends", i)
			r.emit(control.Progress{Index: i, Step: "skipped", Message: msg})
			sl.stopped = false
			return
		}
		r.emit(control.Progress{Index: i, Step: "start", Message: fmt.Sprintf("worker %d was %s: starting it", i, s.slotState(sl))})
		sl.failed, sl.stopped = false, false
		sl.tracker.Reset()
		sl.backoffUntil = time.Time{}
		if sl.timer != nil {
			sl.timer.Stop()
		}
		r.active[i] = 0
		s.ensureRunning(sl)
		s.publish()
		return
	}
	p, err := s.startReplacement(sl, s.binaryFor(r))
	if err != nil {
		msg := fmt.Sprintf("worker %d: cannot start replacement: %v", i, err)
		r.failed = append(r.failed, msg)
		r.emit(control.Progress{Index: i, Step: "failed", Message: msg})
		return
	}
	r.active[i] = sl.cur.pid
	r.emit(control.Progress{Index: i, Step: "start",
		Message: fmt.Sprintf("worker %d: replacement pid %d starting beside pid %d", i, p.pid, sl.cur.pid)})
}

// startReplacement starts binary beside sl's worker on the side socket; it
// takes over sl's path once ready (see promote).
func (s *Supervisor) startReplacement(sl *slot, binary string) (*proc, error) {
	path := nextPath(s.cfg.SocketDir, sl.index)
	ln, err := listenUnix(path, s.gid)
	if err != nil {
		return nil, err
	}
	p, err := spawn(binary, s.cfg.WorkerArgs, sl.index, ln, path)
	if err != nil {
		ln.Close()
		_ = removeIfExists(path)
		return nil, err
	}
	sl.next = p
	sl.nextFailed = ""
	s.watch(p)
	return p, nil
}

// recycle replaces sl's idle worker for hygiene (call count or memory),
// keeping capacity: the replacement starts first, as in a restart.
func (s *Supervisor) recycle(sl *slot, reason string) {
	p := sl.cur
	if s.roll != nil {
		return // a rollout replaces workers already; recycling waits for the next call's end
	}
	if s.stopping || sl.retiring || sl.stopped || sl.next != nil || p == nil || !p.ready || p.draining || p.callID != "" {
		return
	}
	s.log.Info("recycling worker", "index", sl.index, "pid", p.pid, "reason", reason)
	if _, err := s.startReplacement(sl, s.binary); err != nil {
		s.log.Error("cannot start recycled worker's replacement; keeping the old one", "index", sl.index, "err", err)
		return
	}
	sl.recycling = reason
	s.m.recycles.WithLabelValues(reason).Inc()
}
