package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"syscall"
	"time"

	"github.com/voxplatform/vox/control"
	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/lifeline"
	"github.com/voxplatform/vox/restart"
	"github.com/voxplatform/vox/sdnotify"
)

// loop owns the slot table until every worker has stopped after ctx ends.
func (s *Supervisor) loop(ctx context.Context) {
	defer close(s.loopDone)
	s.reconcile()
	done := ctx.Done()
	var killC <-chan time.Time
	for {
		select {
		case fn := <-s.ops:
			fn()
		case <-done:
			done = nil
			killC = s.beginStop()
		case <-killC:
			killC = nil
			s.killAll()
		}
		if s.stopping && s.stopDone() {
			s.closeSockets()
			return
		}
	}
}

// reconcile brings the slot table to the desired count and starts whatever
// should run. It is called after every change.
func (s *Supervisor) reconcile() {
	if s.stopping {
		return
	}
	active := 0
	for _, sl := range s.slots {
		if !sl.retiring {
			active++
		}
	}
	for i := 1; active < s.desired; i++ {
		if _, taken := s.slots[i]; taken {
			continue
		}
		s.slots[i] = &slot{index: i, path: workerPath(s.cfg.SocketDir, i), tracker: restart.NewTracker(s.cfg.Restart)}
		active++
	}
	if active > s.desired {
		s.retire(active - s.desired)
	}
	for _, i := range s.indices() {
		if sl := s.slots[i]; !sl.retiring {
			s.ensureRunning(sl)
		}
	}
	s.publish()
}

// retire scales down by n slots: those without a worker first, then
// starting, then idle, then busy ones; the highest index first within each.
func (s *Supervisor) retire(n int) {
	var cands []*slot
	for _, sl := range s.slots {
		if !sl.retiring {
			cands = append(cands, sl)
		}
	}
	rank := func(sl *slot) int {
		switch {
		case sl.cur == nil:
			return 0
		case !sl.cur.ready:
			return 1
		case sl.cur.callID == "" && !sl.cur.draining:
			return 2
		}
		return 3
	}
	sort.Slice(cands, func(a, b int) bool {
		ra, rb := rank(cands[a]), rank(cands[b])
		if ra != rb {
			return ra < rb
		}
		return cands[a].index > cands[b].index
	})
	for _, sl := range cands[:n] {
		sl.retiring = true
		s.log.Info("retiring worker", "index", sl.index, "state", s.slotState(sl), "reason", "scale down")
		if sl.timer != nil {
			sl.timer.Stop()
		}
		if sl.next != nil {
			sl.next.stopReason = "scale down"
			sl.next.killGroup()
		}
		if sl.cur != nil {
			s.stopProc(sl.cur, "scale down")
		}
		s.maybeRemove(sl)
	}
}

// maybeRemove drops a retiring slot once nothing runs on it.
func (s *Supervisor) maybeRemove(sl *slot) {
	if !sl.retiring || sl.cur != nil || sl.next != nil || len(sl.retired) > 0 {
		return
	}
	s.unbind(sl)
	delete(s.slots, sl.index)
}

// unbind closes the daemon's listener of sl and removes its path.
func (s *Supervisor) unbind(sl *slot) {
	if sl.ln != nil {
		sl.ln.Close()
		sl.ln = nil
		os.Remove(sl.path)
	}
}

// ensureRunning starts a worker on sl when it should have one.
func (s *Supervisor) ensureRunning(sl *slot) {
	if sl.cur != nil || sl.stopped || time.Now().Before(sl.backoffUntil) {
		return
	}
	if sl.ln == nil {
		ln, err := listenUnix(sl.path, s.gid)
		if errors.Is(err, errHeld) {
			if !sl.held {
				s.log.Warn("socket still served by a worker of an earlier daemon; waiting for it to finish",
					"index", sl.index, "socket", sl.path)
				sl.held = true
			}
			s.pollHeld(sl)
			return
		}
		if err != nil {
			s.log.Error("cannot bind worker socket", "index", sl.index, "err", err)
			sl.reason = err.Error()
			s.backoff(sl, time.Second)
			return
		}
		if sl.held {
			s.log.Info("earlier worker finished; index taken back", "index", sl.index)
		}
		sl.held, sl.heldPID, sl.heldCall = false, 0, ""
		sl.ln = ln
	}
	p, err := spawn(s.binary, s.cfg.WorkerArgs, sl.index, sl.ln, sl.path)
	if err != nil {
		s.log.Error("cannot start worker", "index", sl.index, "err", err)
		now := time.Now()
		if d := s.died(sl, restart.Death{Started: now, At: now, Status: err.Error()}); d.Action == restart.RestartNow {
			s.backoff(sl, time.Second) // never retry a failing exec in a tight loop
		}
		return
	}
	sl.cur = p
	sl.reason = ""
	s.watch(p)
}

// pollHeld checks a held index again shortly, learning what its worker does.
func (s *Supervisor) pollHeld(sl *slot) {
	if sl.timer != nil {
		sl.timer.Stop()
	}
	path := sl.path
	sl.timer = time.AfterFunc(250*time.Millisecond, func() {
		h, err := s.health.get(context.Background(), path, s.cfg.ProbeTimeout)
		s.post(func() {
			if err == nil {
				sl.heldPID, sl.heldCall = h.PID, h.CallID
			}
			s.reconcile()
		})
	})
}

// backoff leaves sl empty for d, with its socket closed so nginx moves on.
func (s *Supervisor) backoff(sl *slot, d time.Duration) {
	s.unbind(sl)
	sl.backoffUntil = time.Now().Add(d)
	if sl.timer != nil {
		sl.timer.Stop()
	}
	sl.timer = time.AfterFunc(d, func() { s.post(s.reconcile) })
}

// watch starts the goroutines that report p's exit, lifeline events and readiness.
func (s *Supervisor) watch(p *proc) {
	go func() {
		err := p.wait()
		s.post(func() { s.onExit(p, err) })
	}()
	go func() {
		_ = lifeline.Read(p.life, func(e lifeline.Event) { s.post(func() { s.onEvent(p, e) }) })
	}()
	if p.ready || p.path == "" {
		return // adopted across a re-exec: already known ready, or replaced
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ReadyTimeout)
		defer cancel()
		h, err := s.health.waitReady(ctx, p.path)
		s.post(func() { s.onReady(p, h, err) })
	}()
}

// slotOf finds the slot p belongs to and whether p is its cur, next or retired.
func (s *Supervisor) slotOf(p *proc) (*slot, string) {
	sl := s.slots[p.index]
	if sl == nil {
		return nil, ""
	}
	switch {
	case sl.cur == p:
		return sl, "cur"
	case sl.next == p:
		return sl, "next"
	case slices.Contains(sl.retired, p):
		return sl, "retired"
	}
	return nil, ""
}

func (s *Supervisor) onReady(p *proc, h fleetapi.Health, err error) {
	if p.exited {
		return
	}
	sl, role := s.slotOf(p)
	if sl == nil {
		return
	}
	if err != nil {
		s.log.Error("worker not ready in time; killing it", "index", p.index, "pid", p.pid,
			"timeout", s.cfg.ReadyTimeout.String(), "err", err)
		if role == "next" {
			sl.nextFailed = fmt.Sprintf("replacement for worker %d not ready within %s: %v", p.index, s.cfg.ReadyTimeout, err)
		}
		p.killGroup()
		return
	}
	p.ready = true
	p.version = h.Version
	if h.State == fleetapi.WorkerBusy {
		p.callID = h.CallID
	}
	s.log.Debug("worker ready", "index", p.index, "pid", p.pid, "took", time.Since(p.started).String())
	if role == "next" {
		s.promote(sl)
	}
	if role == "cur" {
		sl.respawn = false
		sl.failed = false // a crash-looping slot came back on a retry
	}
	s.afterChange()
}

// promote makes sl.next serve sl.path: its socket is renamed over the path,
// so connections from now on reach it, and the old worker drains.
func (s *Supervisor) promote(sl *slot) {
	nx := sl.next
	if err := os.Rename(nx.path, sl.path); err != nil {
		sl.nextFailed = fmt.Sprintf("replace worker %d: %v", sl.index, err)
		s.log.Error("cannot move replacement into place", "index", sl.index, "err", err)
		nx.stopReason = "promotion failed"
		nx.killGroup()
		return
	}
	old := sl.cur
	if sl.ln != nil {
		sl.ln.Close() // the daemon's copy only; old keeps its own descriptor for stragglers
	}
	sl.ln = nx.ln
	nx.path = sl.path
	sl.cur, sl.next = nx, nil
	sl.held, sl.respawn = false, false
	reason := "replaced"
	if sl.recycling != "" {
		reason = "recycled (" + sl.recycling + ")"
		sl.recycling = ""
	}
	if old != nil {
		sl.retired = append(sl.retired, old)
		s.stopProc(old, reason)
	}
	s.log.Info("worker "+reason, "index", sl.index, "pid", nx.pid, "version", nx.version)
}

// stopProc tells p to drain: no new call, finish the current one, exit.
func (s *Supervisor) stopProc(p *proc, reason string) {
	if p.exited || p.stopReason != "" {
		return
	}
	p.stopReason = reason
	p.draining = true
	p.signal(syscall.SIGTERM)
	p.killTimer = time.AfterFunc(s.cfg.DrainTimeout, func() {
		s.post(func() {
			if !p.exited {
				s.log.Warn("worker still draining after drain timeout; killing it", "index", p.index, "pid", p.pid)
				p.killGroup()
			}
		})
	})
}

func (s *Supervisor) onEvent(p *proc, e lifeline.Event) {
	switch e.Kind {
	case lifeline.KindReady:
		p.version = e.Version
	case lifeline.KindCallStart:
		p.callID, p.callAt = e.CallID, time.Now()
		s.m.callsStarted.Inc()
	case lifeline.KindCallEnd:
		p.callID, p.callAt = "", time.Time{}
		p.stalled = false
		p.calls = e.Calls
		if sl := s.slots[p.index]; sl != nil {
			sl.calls++
		}
		outcome := e.Outcome
		if outcome != lifeline.OutcomeFailed {
			outcome = lifeline.OutcomeCompleted
		}
		s.m.callsEnded.WithLabelValues(outcome).Inc()
		s.m.callSeconds.Observe(e.Seconds)
		if sl, role := s.slotOf(p); role == "cur" && s.cfg.RecycleCalls > 0 && e.Calls >= s.cfg.RecycleCalls {
			s.recycle(sl, recycleCalls)
		}
	case lifeline.KindDraining:
		p.draining = true
	case lifeline.KindStalled:
		p.stalled = e.Stalled
	default:
		return
	}
	s.afterChange()
}

func (s *Supervisor) onExit(p *proc, waitErr error) {
	p.exited = true
	p.life.Close()
	if p.killTimer != nil {
		p.killTimer.Stop()
	}
	status := exitStatus(waitErr)
	if p.callID != "" {
		s.m.callsEnded.WithLabelValues("cut").Inc()
		s.log.Error("worker died in a call", "index", p.index, "pid", p.pid, "call_id", p.callID, "exit", status)
	}
	sl, role := s.slotOf(p)
	if sl == nil {
		s.afterChange()
		return
	}
	switch role {
	case "next":
		sl.next = nil
		sl.recycling = ""
		p.ln.Close()
		os.Remove(nextPath(s.cfg.SocketDir, sl.index))
		if sl.nextFailed == "" {
			sl.nextFailed = fmt.Sprintf("replacement for worker %d exited before it was ready (%s)", sl.index, status)
		}
		s.log.Error("replacement worker failed", "index", sl.index, "pid", p.pid, "exit", status)
	case "retired":
		sl.retired = slices.DeleteFunc(sl.retired, func(q *proc) bool { return q == p })
		s.log.Info("replaced worker exited", "index", sl.index, "pid", p.pid, "exit", status)
	case "cur":
		sl.cur = nil
		if r := s.roll; r != nil && r.canaryPID == p.pid && time.Now().Before(r.canaryUntil) {
			msg := fmt.Sprintf("canary worker %d (pid %d, version %s) died during its probation: %s", sl.index, p.pid, p.version, status)
			r.failed = append(r.failed, msg)
			r.emit(control.Progress{Index: sl.index, Step: "failed", Message: msg})
			r.queue = nil
			if r.prev != "" {
				s.binary = r.prev // its replacement, and every later worker, runs the previous release
			}
		}
		switch {
		case s.stopping:
		case sl.retiring:
			s.log.Info("retired worker exited", "index", sl.index, "pid", p.pid)
			s.unbind(sl)
		case sl.stopped:
			s.log.Info("drained worker exited", "index", sl.index, "pid", p.pid)
			s.unbind(sl)
		default:
			s.workerDied(sl, p, waitErr)
		}
	}
	s.maybeRemove(sl)
	s.reconcile()
}

// afterChange publishes the routable set and gauges, and advances any rollout.
func (s *Supervisor) afterChange() {
	s.advanceRollout()
	s.publish()
}

// routable is the set of sockets nginx may send new calls to.
func (s *Supervisor) routable() []string {
	var set []string
	for _, i := range s.indices() {
		sl := s.slots[i]
		p := sl.cur
		if sl.retiring || sl.stopped || sl.ln == nil || p == nil || p.draining {
			continue
		}
		if p.probeFails >= s.cfg.HungAfter {
			continue
		}
		if p.ready || sl.respawn {
			set = append(set, sl.path)
		}
	}
	return set
}

// publish hands the routable set to the upstream manager and refreshes gauges.
func (s *Supervisor) publish() {
	set := s.routable()
	if !slices.Equal(set, s.lastSet) {
		s.lastSet = set
		s.up.Update(set)
	}
	counts := map[fleetapi.SlotState]int{}
	for _, w := range s.workers() {
		counts[w.State]++
	}
	for _, st := range allStates {
		s.m.workers.WithLabelValues(string(st)).Set(float64(counts[st]))
	}
	s.m.desired.Set(float64(s.desired))
	stalled := 0
	for _, sl := range s.slots {
		if sl.cur != nil && sl.cur.stalled {
			stalled++
		}
	}
	s.m.stalled.Set(float64(stalled))
	if !s.notified && !s.stopping && len(set) >= s.desired {
		s.notified = true
		s.log.Info("fleet ready", "workers", len(set))
		_, _ = sdnotify.Notify(sdnotify.Ready + "\n" + sdnotify.Status(fmt.Sprintf("%d workers ready", len(set))))
	}
}

func (s *Supervisor) indices() []int {
	idx := make([]int, 0, len(s.slots))
	for i := range s.slots {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	return idx
}

// procs lists every process on sl.
func (sl *slot) procs() []*proc {
	var ps []*proc
	if sl.cur != nil {
		ps = append(ps, sl.cur)
	}
	if sl.next != nil {
		ps = append(ps, sl.next)
	}
	return append(ps, sl.retired...)
}
