package supervisor

import (
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"

	"github.com/voxplatform/vox/restart"
)

// workerDied handles the unexpected death of sl's serving worker p: it
// logs how p ended and what the restart policy decided, with its reason.
func (s *Supervisor) workerDied(sl *slot, p *proc, waitErr error) {
	status := exitStatus(waitErr)
	killed := false
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			killed = !p.killedByDaemon
		}
	}
	s.died(sl, restart.Death{Started: p.started, At: time.Now(), Ready: p.ready, Killed: killed, Status: status}, "pid", p.pid)
}

// died applies the restart policy to an unexpected death on sl and returns
// the decision. attrs are logged with it.
func (s *Supervisor) died(sl *slot, d restart.Death, attrs ...any) restart.Decision {
	sl.restarts++
	s.m.restarts.Inc()
	dec := sl.tracker.Died(d)
	decision := "restart now"
	switch {
	case dec.Failed:
		decision = "failed"
	case dec.Action == restart.RestartAfter:
		decision = "backoff"
	}
	s.m.deaths.WithLabelValues(string(dec.Cause), decision).Inc()
	sl.reason = dec.Reason
	attrs = append([]any{"index", sl.index, "exit", d.Status, "uptime", d.At.Sub(d.Started).Round(time.Millisecond).String(),
		"was_ready", d.Ready, "cause", string(dec.Cause), "decision", decision, "delay", dec.Delay.Round(time.Millisecond).String(),
		"quick_deaths", dec.Streak, "reason", dec.Reason}, attrs...)
	switch {
	case dec.Failed:
		s.log.Error("worker crash-looping; slot failed, retried at the backoff cap", append(attrs,
			"action", fmt.Sprintf("fix the cause; voxfleet restart %d retries at once", sl.index))...)
	case dec.Action == restart.RestartAfter:
		s.log.Warn("worker died; backing off", attrs...)
	default:
		s.log.Warn("worker died; restarting", attrs...)
	}
	sl.failed = dec.Failed
	if dec.Action == restart.RestartNow {
		// Keep the listener: connections wait in its backlog for the new worker.
		sl.respawn = true
		return dec
	}
	s.backoff(sl, dec.Delay)
	return dec
}

// exitStatus describes how a process ended.
func exitStatus(err error) string {
	if err == nil {
		return "exit 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Sprintf("killed by signal %d (%s)", int(ws.Signal()), ws.Signal())
		}
		return fmt.Sprintf("exit %d", ee.ExitCode())
	}
	return err.Error()
}
