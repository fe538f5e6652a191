package supervisor

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/lifeline"
)

// Environment variables a worker reads from its daemon.
const (
	// EnvListenFD names the inherited file descriptor of the worker's
	// listening socket.
	EnvListenFD = "VOXFLEET_LISTEN_FD"
	// EnvIndex carries the worker's slot index, for logs.
	EnvIndex = "VOXFLEET_WORKER_INDEX"
)

// proc is one worker process. Only the loop goroutine touches it.
type proc struct {
	index   int
	pid     int
	cmd     *exec.Cmd   // nil for a worker adopted across an upgrade's re-exec
	process *os.Process // set for an adopted worker
	path    string      // socket path it serves: the slot's path, or nextPath while it is a pending replacement
	ln      *net.UnixListener
	life    net.Conn
	started time.Time
	exited  bool

	ready    bool
	draining bool // told to drain (SIGTERM sent) or said so on its lifeline
	callID   string
	callAt   time.Time // when the current call started, as far as the daemon knows
	calls    int
	version  string
	stalled  bool

	probeFails int       // consecutive failed liveness probes
	hungSince  time.Time // first failed probe of the current run of failures
	killTimer  *time.Timer
	stopReason string // why the daemon stopped it; "" for an unexpected death
	// killedByDaemon: the daemon sent the SIGKILL (hung, not ready in
	// time), so a death by SIGKILL is not a kill from outside.
	killedByDaemon bool
}

// spawn starts binary as a worker serving ln. The process gets its own process
// group, the listener as fd 3 and its lifeline as fd 4.
func spawn(binary string, extra []string, index int, ln *net.UnixListener, path string) (*proc, error) {
	lnFile, err := ln.File()
	if err != nil {
		return nil, fmt.Errorf("worker %d: listener fd: %w", index, err)
	}
	defer lnFile.Close()
	parent, child, err := lifeline.Pair()
	if err != nil {
		return nil, fmt.Errorf("worker %d: %w", index, err)
	}
	defer child.Close()

	args := append([]string{"worker", "--index", strconv.Itoa(index), "--socket", path}, extra...)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(workerEnv(),
		EnvListenFD+"=3",
		lifeline.EnvFD+"=4",
		EnvIndex+"="+strconv.Itoa(index),
	)
	cmd.ExtraFiles = []*os.File{lnFile, child}
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		parent.Close()
		return nil, fmt.Errorf("start worker %d (%s): %w", index, binary, err)
	}
	return &proc{
		index:   index,
		pid:     cmd.Process.Pid,
		cmd:     cmd,
		path:    path,
		ln:      ln,
		life:    parent,
		started: time.Now(),
	}, nil
}

// workerEnv is the daemon's environment minus what systemd meant for the
// daemon alone: a worker must never answer for it on the notify socket.
func workerEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// wait blocks until the worker exits.
func (p *proc) wait() error {
	if p.cmd != nil {
		return p.cmd.Wait()
	}
	st, err := p.process.Wait()
	if err != nil {
		return err
	}
	if !st.Success() {
		return &exec.ExitError{ProcessState: st}
	}
	return nil
}

// signal sends sig to the worker process itself.
func (p *proc) signal(sig syscall.Signal) {
	if !p.exited {
		_ = syscall.Kill(p.pid, sig)
	}
}

// killGroup sends SIGKILL to the worker's whole process group.
func (p *proc) killGroup() {
	if !p.exited {
		p.killedByDaemon = true
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	}
}

// state is what the worker is doing, as the fleet reports it.
func (p *proc) state() fleetapi.SlotState {
	switch {
	case !p.ready:
		return stateStarting
	case p.draining:
		return stateDraining
	case p.callID != "":
		return stateBusy
	}
	return stateReady
}
