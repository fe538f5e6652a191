package supervisor

import (
	"os"
	"time"

	"github.com/voxplatform/vox/sdnotify"
)

// beginStop starts the daemon's shutdown: every worker drains (idle ones
// exit at once). The returned channel fires when the wait is over: after
// StopTimeout in drain mode, after KillGrace in handoff mode.
func (s *Supervisor) beginStop() <-chan time.Time {
	s.stopping = true
	if s.cfg.StopMode == StopHandoff && s.cfg.HostStopping != nil && s.cfg.HostStopping() {
		s.log.Info("the host is shutting down: draining the workers instead of handing them off")
		s.cfg.StopMode = StopDrain
	}
	_, _ = sdnotify.Notify(sdnotify.Stopping)
	busy := 0
	for _, sl := range s.slots {
		if sl.timer != nil {
			sl.timer.Stop()
		}
		if sl.next != nil {
			sl.next.stopReason = "daemon stopping"
			sl.next.killGroup()
		}
		for _, p := range sl.procs() {
			if p.callID != "" {
				busy++
			}
			s.stopProc(p, "daemon stopping")
		}
	}
	if s.cfg.StopMode == StopHandoff {
		s.log.Info("stopping: idle workers exit; workers in a call finish it on their own and the next daemon takes their index back",
			"calls", busy)
		return time.After(s.cfg.KillGrace)
	}
	s.log.Info("stopping: workers drain, calls in progress may finish", "calls", busy, "stop_timeout", s.cfg.StopTimeout.String())
	return time.After(s.cfg.StopTimeout)
}

// stopDone reports whether the loop may end: no worker left in drain mode;
// in handoff mode, none left that is not in a call.
func (s *Supervisor) stopDone() bool {
	for _, sl := range s.slots {
		for _, p := range sl.procs() {
			if p.exited || (s.cfg.StopMode == StopHandoff && (p.callID != "" || s.handoffOver)) {
				continue
			}
			return false
		}
	}
	return true
}

// killAll ends the wait of beginStop: in drain mode every worker still
// running is killed; in handoff mode the busy ones are left to finish.
func (s *Supervisor) killAll() {
	if s.cfg.StopMode == StopHandoff {
		s.handoffOver = true
		for _, sl := range s.slots {
			for _, p := range sl.procs() {
				if !p.exited && p.callID == "" {
					s.log.Warn("idle worker did not exit in time; killing it", "index", p.index, "pid", p.pid)
					p.killGroup()
				}
			}
		}
		return
	}
	for _, sl := range s.slots {
		for _, p := range sl.procs() {
			if !p.exited {
				s.log.Warn("stop timeout reached; killing worker", "index", p.index, "pid", p.pid, "call_id", p.callID)
				p.killGroup()
			}
		}
	}
}

// closeSockets removes every socket the daemon bound, except those of
// workers left to finish a call (handoff): their paths tell the next daemon
// the index is held, and each worker removes its own when done.
func (s *Supervisor) closeSockets() {
	for _, sl := range s.slots {
		os.Remove(nextPath(s.cfg.SocketDir, sl.index))
		if sl.cur != nil && !sl.cur.exited {
			if sl.ln != nil {
				sl.ln.Close()
				sl.ln = nil
			}
			s.log.Info("leaving worker to finish its call", "index", sl.index, "pid", sl.cur.pid, "call_id", sl.cur.callID)
			continue
		}
		s.unbind(sl)
	}
}

// StopNow ends the daemon's stop at once: every worker it started is
// killed (calls in progress are cut, and the log says which), their
// sockets are removed, and Run returns. It is meant for a second Ctrl-C
// or SIGTERM during a stop; before one it does nothing.
func (s *Supervisor) StopNow() {
	s.post(func() {
		if !s.stopping {
			return
		}
		s.cfg.StopMode = StopDrain // nothing is handed off: every worker goes
		s.handoffOver = false
		cut := 0
		for _, sl := range s.slots {
			for _, p := range sl.procs() {
				if p.exited {
					continue
				}
				if p.callID != "" {
					cut++
					s.log.Warn("stopping now: killing worker in a call; the call is cut", "index", p.index, "pid", p.pid, "call_id", p.callID)
				}
				p.killGroup()
			}
		}
		s.log.Warn("stopping now: every worker killed", "calls_cut", cut)
	})
}
