package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/voxplatform/vox/control"
	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/restart"
	"github.com/voxplatform/vox/sdnotify"
)

// EnvHandover names the file in which a daemon that re-executes itself
// leaves its state for the new image.
const EnvHandover = "VOXFLEET_HANDOVER"

// handoverFormat is bumped whenever handover changes incompatibly.
const handoverFormat = 1

// handover is the daemon's state, carried across execve: every descriptor
// it names stays open in the same process.
type handover struct {
	Format    int              `json:"format"`
	Desired   int              `json:"desired"`
	ControlFD int              `json:"control_fd"`
	HTTPFD    int              `json:"http_fd"`
	ExePath   string           `json:"exe_path"`
	Worker    string           `json:"worker_binary"` // the configured worker binary path
	Binary    string           `json:"binary"`        // what new workers run now
	Slots     []handoverSlot   `json:"slots"`
	Upgrade   *handoverUpgrade `json:"upgrade,omitempty"`
	// Abandoned: the image this handover went to could not take over and
	// handed back; the previous image reports it as a failed upgrade.
	Abandoned *fleetapi.Rollout `json:"abandoned,omitempty"`
}

type handoverSlot struct {
	Index    int            `json:"index"`
	ListenFD int            `json:"listen_fd"` // -1: none bound
	Restarts int            `json:"restarts"`
	Retiring bool           `json:"retiring,omitempty"`
	Stopped  bool           `json:"stopped,omitempty"`
	Failed   bool           `json:"failed,omitempty"`
	Reason   string         `json:"reason,omitempty"`
	Cur      *handoverProc  `json:"cur,omitempty"`
	Retired  []handoverProc `json:"retired,omitempty"`
}

type handoverProc struct {
	PID        int       `json:"pid"`
	LifeFD     int       `json:"life_fd"`
	Started    time.Time `json:"started"`
	Ready      bool      `json:"ready"`
	Draining   bool      `json:"draining,omitempty"`
	CallID     string    `json:"call_id,omitempty"`
	Calls      int       `json:"calls,omitempty"`
	Version    string    `json:"version,omitempty"`
	StopReason string    `json:"stop_reason,omitempty"`
}

// handoverUpgrade asks the new image to roll the workers onto it.
type handoverUpgrade struct {
	From string `json:"from"` // version before
	To   string `json:"to"`   // version of the new binary
	Prev string `json:"prev"` // a copy of the previous release, for workers if the canary fails
	// PrevWorker is the worker binary path before the upgrade, restored if
	// the new image hands back.
	PrevWorker string `json:"prev_worker,omitempty"`
}

// binaryVersion runs `BINARY version` and returns what it says.
func binaryVersion(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s version: %w: %s", path, err, strings.TrimSpace(string(out)))
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || f[0] != "voxfleet" {
		return "", fmt.Errorf("%s version: unexpected answer %q", path, strings.TrimSpace(string(out)))
	}
	return f[1], nil
}

// Upgrade checks the binary now on disk and re-executes the daemon from it
// in place (same PID), handing over every socket, worker and setting; the
// new image then rolls the workers onto it, canary first. It streams
// progress until the re-exec, which ends the stream.
func (s *Supervisor) Upgrade(ctx context.Context) (<-chan control.Progress, error) {
	var opErr error
	err := s.call(ctx, func() {
		switch {
		case s.stopping:
			opErr = &requestError{503, "voxfleet is stopping"}
		case s.roll != nil, s.upgrading:
			opErr = &requestError{409, "a restart or upgrade is already in progress"}
		}
		for _, sl := range s.slots {
			if sl.next != nil {
				opErr = &requestError{409, fmt.Sprintf("worker %d is being replaced; try again in a moment", sl.index)}
			}
		}
		if opErr == nil {
			s.upgrading = true // until the re-exec, or until the upgrade fails
		}
	})
	if err == nil {
		err = opErr
	}
	if err != nil {
		return nil, err
	}
	notUpgrading := func() { s.post(func() { s.upgrading = false }) }
	to, err := binaryVersion(ctx, s.exePath)
	if err != nil {
		notUpgrading()
		return nil, &requestError{422, "the new binary does not run: " + err.Error()}
	}
	out := make(chan control.Progress, 8)
	out <- control.Progress{Step: "check", Version: to, Message: fmt.Sprintf("%s is version %s (running %s)", s.exePath, to, s.version)}
	go func() {
		target, err := s.prepareCandidate(to, out)
		if err != nil {
			s.log.Error("upgrade refused; nothing changed", "to", to, "err", err)
			out <- control.Progress{Step: "done", Done: true, Error: fmt.Sprintf(
				"upgrade to %s refused: %v; nothing changed: the daemon and every worker keep running %s", to, err, s.version),
				Message: "upgrade refused; " + s.version + " keeps serving"}
			close(out)
			notUpgrading()
			return
		}
		out <- control.Progress{Step: "reexec", Message: fmt.Sprintf(
			"daemon pid %d re-executes in place; workers keep their calls; then the workers roll onto %s, canary first", os.Getpid(), to)}
		// Give the handler a moment to send the lines above; the re-exec
		// closes the connection.
		time.Sleep(100 * time.Millisecond)
		var execErr error
		_ = s.call(context.Background(), func() { execErr = s.reexec(to, target) })
		if execErr != nil {
			s.log.Error("upgrade failed; this daemon keeps running", "err", execErr)
			out <- control.Progress{Step: "done", Done: true, Error: "re-exec failed: " + execErr.Error()}
		}
		close(out)
		notUpgrading()
	}()
	return out, nil
}

// reexec replaces the process image with the binary at target (exePath, or
// its copy in the release directory). Loop only. It returns only on
// failure, with the daemon unchanged.
func (s *Supervisor) reexec(to, target string) error {
	if s.stopping || s.roll != nil {
		return errors.New("the daemon started stopping or a restart began meanwhile")
	}
	for _, sl := range s.slots {
		if sl.next != nil {
			return fmt.Errorf("worker %d began being replaced meanwhile; try again", sl.index)
		}
	}
	prev := s.binary
	if prev == s.cfg.WorkerBinary {
		// The release on disk is the new one now; keep what is running.
		prev = filepath.Join(s.cfg.SocketDir, ".voxfleet-prev")
		if err := copyFile("/proc/self/exe", prev); err != nil {
			return fmt.Errorf("keep the previous release: %w", err)
		}
	}
	worker := s.cfg.WorkerBinary
	if s.workerDefault && target != s.exePath {
		worker = target // workers of the new release run its kept copy
	}
	ho := handover{Format: handoverFormat, Desired: s.desired, ExePath: s.exePath, Worker: worker, Binary: prev,
		Upgrade: &handoverUpgrade{From: s.version, To: to, Prev: prev, PrevWorker: s.cfg.WorkerBinary}}
	var keep []*os.File
	defer func() {
		for _, f := range keep {
			f.Close()
		}
	}()
	pass := func(x interface{ File() (*os.File, error) }) (int, error) {
		f, err := x.File()
		if err != nil {
			return -1, err
		}
		keep = append(keep, f)
		if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), syscall.F_SETFD, 0); e != 0 {
			return -1, fmt.Errorf("clear close-on-exec: %w", e)
		}
		return int(f.Fd()), nil
	}
	var err error
	if ho.ControlFD, err = pass(s.ctlLn.(*net.UnixListener)); err != nil {
		return err
	}
	if ho.HTTPFD, err = pass(s.httpLn.(*net.TCPListener)); err != nil {
		return err
	}
	procOf := func(p *proc) (handoverProc, error) {
		fd, err := pass(p.life.(*net.UnixConn))
		return handoverProc{PID: p.pid, LifeFD: fd, Started: p.started, Ready: p.ready, Draining: p.draining,
			CallID: p.callID, Calls: p.calls, Version: p.version, StopReason: p.stopReason}, err
	}
	for _, i := range s.indices() {
		sl := s.slots[i]
		hs := handoverSlot{Index: i, ListenFD: -1, Restarts: sl.restarts, Retiring: sl.retiring, Stopped: sl.stopped,
			Failed: sl.failed, Reason: sl.reason}
		if sl.ln != nil {
			if hs.ListenFD, err = pass(sl.ln); err != nil {
				return err
			}
		}
		if sl.cur != nil && !sl.cur.exited {
			hp, err := procOf(sl.cur)
			if err != nil {
				return err
			}
			hs.Cur = &hp
		}
		for _, p := range sl.retired {
			if !p.exited {
				hp, err := procOf(p)
				if err != nil {
					return err
				}
				hs.Retired = append(hs.Retired, hp)
			}
		}
		ho.Slots = append(ho.Slots, hs)
	}
	b, _ := json.Marshal(ho)
	path := filepath.Join(s.cfg.SocketDir, ".handover.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("write handover: %w", err)
	}
	env := append(os.Environ(), EnvHandover+"="+path)
	s.log.Info("re-executing in place", "binary", target, "from", s.version, "to", to, "pid", os.Getpid())
	_, _ = sdnotify.Notify(sdnotify.Status("upgrading to " + to))
	err = syscall.Exec(target, os.Args, env)
	os.Remove(path)
	return fmt.Errorf("exec %s: %w", target, err)
}

// takeHandover reads and removes the handover left by the previous image,
// if this process is one.
func takeHandover() (*handover, error) {
	path := os.Getenv(EnvHandover)
	if path == "" {
		return nil, nil
	}
	os.Unsetenv(EnvHandover) // workers must not see it
	b, err := os.ReadFile(path)
	os.Remove(path)
	if err != nil {
		return nil, fmt.Errorf("read handover: %w", err)
	}
	var ho handover
	if err := json.Unmarshal(b, &ho); err != nil {
		return nil, fmt.Errorf("decode handover: %w", err)
	}
	if ho.Format != handoverFormat {
		return &ho, fmt.Errorf("handover format %d, this binary reads %d", ho.Format, handoverFormat)
	}
	return &ho, nil
}

// adopt takes over the sockets and workers of the previous image.
func (s *Supervisor) adopt(ho *handover) (ctlLn, httpLn net.Listener, err error) {
	// The inherited descriptors are closed only once everything is adopted:
	// if adopting fails, fallBack hands the same numbers to the previous
	// release.
	var inherited []*os.File
	defer func() {
		if err == nil {
			for _, f := range inherited {
				f.Close()
			}
		}
	}()
	fileListener := func(fd int) (net.Listener, error) {
		f := os.NewFile(uintptr(fd), "inherited")
		inherited = append(inherited, f)
		return net.FileListener(f)
	}
	if ctlLn, err = fileListener(ho.ControlFD); err != nil {
		return nil, nil, fmt.Errorf("control socket: %w", err)
	}
	if ul, ok := ctlLn.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false)
	}
	if httpLn, err = fileListener(ho.HTTPFD); err != nil {
		return nil, nil, fmt.Errorf("http listener: %w", err)
	}
	s.desired, s.exePath = ho.Desired, ho.ExePath
	if s.workerDefault && ho.Worker != "" {
		// Not set by flag: workers run the daemon's binary as installed,
		// which is the path the previous image ran from (this image may
		// have been reached through a wrapper).
		s.cfg.WorkerBinary = ho.Worker
	}
	s.binary = s.cfg.WorkerBinary
	if ho.Binary != "" {
		s.binary = ho.Binary
	}
	adoptProc := func(index int, path string, hp handoverProc) (*proc, error) {
		f := os.NewFile(uintptr(hp.LifeFD), "lifeline")
		inherited = append(inherited, f)
		life, err := net.FileConn(f)
		if err != nil {
			return nil, fmt.Errorf("worker %d lifeline: %w", index, err)
		}
		osp, _ := os.FindProcess(hp.PID) // never fails on Unix
		return &proc{index: index, pid: hp.PID, path: path, life: life, started: hp.Started,
			ready: hp.Ready, draining: hp.Draining, callID: hp.CallID, calls: hp.Calls, version: hp.Version,
			stopReason: hp.StopReason, process: osp}, nil
	}
	for _, hs := range ho.Slots {
		sl := &slot{index: hs.Index, path: workerPath(s.cfg.SocketDir, hs.Index), tracker: restart.NewTracker(s.cfg.Restart),
			restarts: hs.Restarts, retiring: hs.Retiring, stopped: hs.Stopped, failed: hs.Failed, reason: hs.Reason}
		if hs.ListenFD >= 0 {
			ln, err := fileListener(hs.ListenFD)
			if err != nil {
				return nil, nil, fmt.Errorf("worker %d socket: %w", hs.Index, err)
			}
			sl.ln = ln.(*net.UnixListener)
			sl.ln.SetUnlinkOnClose(false)
		}
		if hs.Cur != nil {
			if sl.cur, err = adoptProc(hs.Index, sl.path, *hs.Cur); err != nil {
				return nil, nil, err
			}
		}
		for _, hp := range hs.Retired {
			p, err := adoptProc(hs.Index, "", hp)
			if err != nil {
				return nil, nil, err
			}
			sl.retired = append(sl.retired, p)
		}
		s.slots[hs.Index] = sl
	}
	for _, sl := range s.slots {
		for _, p := range sl.procs() {
			s.watch(p)
		}
	}
	if ho.Abandoned != nil {
		s.lastRoll = ho.Abandoned
		s.log.Error("upgrade abandoned: the new release could not take over; this release keeps serving",
			"to", ho.Abandoned.Version, "err", ho.Abandoned.Error)
	}
	s.notified = true
	s.log.Info("adopted the previous daemon's workers", "workers", len(s.slots), "version", s.version)
	_, _ = sdnotify.Notify(sdnotify.Ready + "\n" + sdnotify.Status("running "+s.version))
	return ctlLn, httpLn, nil
}

// fallBack re-executes the previous release when this image cannot adopt
// the handover, so an upgrade to a broken daemon does not take the host
// down. It returns only if that is impossible.
func (s *Supervisor) fallBack(ho *handover, cause error) {
	if ho == nil || ho.Upgrade == nil || ho.Upgrade.Prev == "" {
		return
	}
	s.log.Error("cannot adopt the previous daemon's state; going back to the previous release", "err", cause,
		"binary", ho.Upgrade.Prev)
	ho.Abandoned = &fleetapi.Rollout{Kind: "upgrade", Version: ho.Upgrade.To, Done: true,
		Error: fmt.Sprintf("%s could not take over (%v); went back to %s", ho.Upgrade.To, cause, ho.Upgrade.From)}
	if ho.Upgrade.PrevWorker != "" {
		ho.Worker = ho.Upgrade.PrevWorker
	}
	ho.Upgrade = nil
	b, _ := json.Marshal(ho)
	path := filepath.Join(s.cfg.SocketDir, ".handover.json")
	if os.WriteFile(path, b, 0o600) != nil {
		return
	}
	_ = syscall.Exec(ho.Binary, os.Args, append(os.Environ(), EnvHandover+"="+path))
}

// beginUpgradeRoll starts rolling the workers onto the new release after a
// re-exec: one at a time, the first as a canary. Loop only.
func (s *Supervisor) beginUpgradeRoll(u *handoverUpgrade) {
	var idx []int
	for _, i := range s.indices() {
		if sl := s.slots[i]; !sl.retiring && !sl.stopped {
			idx = append(idx, i)
		}
	}
	r := newRollout(idx, true)
	r.kind, r.version, r.canary, r.prev, r.binary = "upgrade", u.To, true, u.Prev, s.cfg.WorkerBinary
	s.log.Info("rolling workers onto the new release", "from", u.From, "to", u.To, "workers", len(idx))
	r.emit(control.Progress{Step: "plan", Message: fmt.Sprintf("upgrading %d worker(s) from %s to %s, canary first", len(idx), u.From, u.To)})
	s.roll = r // nobody reads r.out (emit never blocks); status carries the progress
	s.advanceRollout()
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}
