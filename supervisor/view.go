package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/voxplatform/vox/control"
	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/upstream"
)

// slotState is the state of sl's current worker, or of the empty slot.
func (s *Supervisor) slotState(sl *slot) fleetapi.SlotState {
	switch {
	case sl.cur != nil:
		return sl.cur.state()
	case sl.held:
		return stateHeld
	case sl.failed:
		return stateFailed
	case sl.stopped:
		return stateStopped
	case time.Now().Before(sl.backoffUntil):
		return stateBackoff
	}
	return stateStarting
}

// workers lists every slot and process as the fleet reports them. Loop only.
func (s *Supervisor) workers() []fleetapi.FleetWorker {
	var ws []fleetapi.FleetWorker
	now := time.Now()
	for _, i := range s.indices() {
		sl := s.slots[i]
		w := fleetapi.FleetWorker{Index: i, State: s.slotState(sl), Restarts: sl.restarts, Reason: sl.reason}
		if p := sl.cur; p != nil {
			w.PID, w.CallID, w.Calls, w.Version, w.Stalled = p.pid, p.callID, sl.calls, p.version, p.stalled
			w.UptimeS = now.Sub(p.started).Seconds()
			w.CallS = callAge(p, now)
			if sl.retiring {
				w.State, w.Reason = stateDraining, control.ReasonScaledDown
			}
			if p.probeFails >= s.cfg.HungAfter {
				w.Reason = "not answering /health"
			}
		} else if sl.held {
			w.PID, w.CallID, w.Reason = sl.heldPID, sl.heldCall, "worker of an earlier daemon finishing its call"
		}
		ws = append(ws, w)
		for _, p := range sl.retired {
			reason := p.stopReason
			if reason == "replaced" {
				reason = "" // Retired says it
			}
			ws = append(ws, fleetapi.FleetWorker{Index: i, PID: p.pid, State: stateDraining, CallID: p.callID,
				Calls: p.calls, Version: p.version, UptimeS: now.Sub(p.started).Seconds(), Retired: true,
				CallS:   callAge(p, now),
				Stalled: p.stalled, Reason: reason})
		}
	}
	return ws
}

// callAge is how long p's current call has lasted, in seconds; 0 when it
// is in none or its start was not seen by this daemon.
func callAge(p *proc, now time.Time) float64 {
	if p.callID == "" || p.callAt.IsZero() {
		return 0
	}
	return now.Sub(p.callAt).Seconds()
}

// fleetFrom totals ws into the /health/fleet answer.
func fleetFrom(ws []fleetapi.FleetWorker, desired int, version string) fleetapi.Fleet {
	f := fleetapi.Fleet{Desired: desired, Version: version, Workers: ws}
	if f.Workers == nil {
		f.Workers = []fleetapi.FleetWorker{}
	}
	for _, w := range ws {
		switch w.State {
		case stateReady:
			f.Ready++
			f.Free++
		case stateBusy:
			f.Ready++
			f.Busy++
		case stateDraining:
			f.Draining++
			if w.CallID != "" {
				f.Busy++
			}
		case stateFailed:
			f.Failed++
		}
	}
	switch {
	case f.Ready == 0:
		f.Status = fleetapi.FleetDown
	case f.Ready < desired || f.Failed > 0:
		f.Status = fleetapi.FleetDegraded
	default:
		f.Status = fleetapi.FleetOK
	}
	return f
}

// liveFleet builds the fleet view by asking every worker for its health in
// parallel, each within ProbeTimeout, and falling back to what the daemon
// knows for a worker that does not answer in time.
func (s *Supervisor) liveFleet(ctx context.Context) (fleetapi.Fleet, error) {
	var (
		ws      []fleetapi.FleetWorker
		paths   = map[int]string{} // position in ws → socket to ask
		desired int
		roll    *fleetapi.Rollout
	)
	err := s.call(ctx, func() {
		ws = s.workers()
		desired = s.desired
		roll = s.rolloutStatus()
		for n, w := range ws {
			sl := s.slots[w.Index]
			if !w.Retired && sl != nil && sl.cur != nil && sl.cur.ready && sl.cur.pid == w.PID {
				paths[n] = sl.path
			}
		}
	})
	if err != nil {
		return fleetapi.Fleet{}, err
	}
	var wg sync.WaitGroup
	var mu sync.Mutex // guards ws entries written by probes
	for n, path := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			h, err := s.health.get(ctx, path, s.cfg.ProbeTimeout)
			s.m.probeSeconds.Observe(time.Since(start).Seconds())
			mu.Lock()
			defer mu.Unlock()
			w := &ws[n]
			if err != nil {
				if w.Reason == "" {
					w.Reason = "not answering /health"
				}
				return
			}
			if h.PID != w.PID {
				return // replaced since the snapshot
			}
			w.CallID = h.CallID
			switch h.State {
			case fleetapi.WorkerBusy:
				w.State = stateBusy
			case fleetapi.WorkerDraining:
				w.State = stateDraining
			case fleetapi.WorkerIdle:
				if w.State == stateBusy {
					w.State = stateReady
				}
			}
			if h.Version != "" {
				w.Version = h.Version
			}
		}()
	}
	wg.Wait()
	f := fleetFrom(ws, desired, s.version)
	f.DaemonPID, f.Rollout, f.Binary = os.Getpid(), roll, s.exePath
	if us, ok := s.up.(upstreamStater); ok {
		routedOnly(&f, us.State(), s.cfg.SocketDir)
	}
	return f, nil
}

// upstreamStater is an Upstream that knows which set nginx routes to.
type upstreamStater interface {
	State() upstream.State
}

// routedOnly makes f count as free only the workers nginx routes to (the
// set last applied), marks the others, and reports the upstream's state. A
// failed apply degrades an otherwise ok fleet.
func routedOnly(f *fleetapi.Fleet, st upstream.State, dir string) {
	routed := map[string]bool{}
	for _, p := range st.Applied {
		routed[p] = true
	}
	f.Upstream = &fleetapi.Upstream{Applied: st.Current && st.Err == nil, Servers: len(st.Applied)}
	if st.Err != nil {
		f.Upstream.Error = st.Err.Error()
		var ae *upstream.ApplyError
		if errors.As(st.Err, &ae) {
			f.Upstream.Error = ae.Brief()
		}
	}
	f.Free = 0
	for n := range f.Workers {
		w := &f.Workers[n]
		if w.Retired || (w.State != stateReady && w.State != stateBusy) {
			continue
		}
		if !routed[workerPath(dir, w.Index)] {
			w.NotRouted = true
			continue
		}
		if w.State == stateReady {
			f.Free++
		}
	}
	if f.Upstream.Error != "" && f.Status == fleetapi.FleetOK {
		f.Status = fleetapi.FleetDegraded
	}
}

// probeLoop checks every ready worker's liveness each ProbeEvery.
func (s *Supervisor) probeLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.ProbeEvery)
	defer t.Stop()
	inflight := map[*proc]bool{} // procs with a probe under way
	var mu sync.Mutex            // guards inflight
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var targets []*proc
		if err := s.call(ctx, func() {
			for _, sl := range s.slots {
				if p := sl.cur; p != nil && p.ready && !p.exited {
					targets = append(targets, p)
				}
			}
		}); err != nil {
			return
		}
		for _, p := range targets {
			mu.Lock()
			busy := inflight[p]
			inflight[p] = true
			mu.Unlock()
			if busy {
				continue
			}
			path := p.path
			go func() {
				start := time.Now()
				h, err := s.health.get(ctx, path, s.cfg.ProbeTimeout)
				s.m.probeSeconds.Observe(time.Since(start).Seconds())
				mu.Lock()
				delete(inflight, p)
				mu.Unlock()
				s.post(func() { s.onProbe(p, h, err) })
			}()
		}
	}
}

// onProbe records one liveness probe. A worker that fails HungAfter probes in
// a row leaves routing; if it is idle, or its call has had HungGrace, it is
// killed and the restart policy replaces it.
func (s *Supervisor) onProbe(p *proc, h fleetapi.Health, err error) {
	if p.exited {
		return
	}
	if err == nil && h.PID == p.pid {
		if p.probeFails >= s.cfg.HungAfter {
			s.log.Info("worker answers /health again", "index", p.index, "pid", p.pid)
		}
		p.probeFails = 0
		if h.State == fleetapi.WorkerBusy && p.callID == "" {
			p.callID = h.CallID
		}
		if s.cfg.RecycleRSS > 0 && p.callID == "" {
			if rss, err := procRSS(p.pid); err == nil && rss > s.cfg.RecycleRSS {
				if sl, role := s.slotOf(p); role == "cur" {
					s.log.Info("worker above memory limit", "index", p.index, "pid", p.pid, "rss_bytes", rss, "limit_bytes", s.cfg.RecycleRSS)
					s.recycle(sl, recycleMemory)
				}
			}
		}
		s.afterChange()
		return
	}
	if err == nil {
		return // the path is served by another process now
	}
	if p.probeFails == 0 {
		p.hungSince = time.Now()
	}
	p.probeFails++
	if p.probeFails < s.cfg.HungAfter {
		return
	}
	if p.probeFails == s.cfg.HungAfter {
		s.log.Warn("worker stopped answering /health; taken out of routing", "index", p.index, "pid", p.pid,
			"call_id", p.callID, "err", err)
	}
	if p.callID == "" || time.Since(p.hungSince) >= s.cfg.HungGrace {
		s.log.Error("killing hung worker", "index", p.index, "pid", p.pid, "call_id", p.callID)
		s.m.hung.Inc()
		p.killGroup()
	}
	s.afterChange()
}

// procRSS reads a process's resident set size in bytes.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, fmt.Errorf("statm of %d: %q", pid, b)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("statm of %d: %w", pid, err)
	}
	return pages * int64(os.Getpagesize()), nil
}
