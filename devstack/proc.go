package devstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one long-running process of the stack, in a process group of its
// own so that stopping it reaches its children (nginx's workers, voxfleet's
// workers) too.
type proc struct {
	name  string
	cmd   *exec.Cmd
	log   string        // path of its combined output
	grace time.Duration // how long it may take to stop on SIGTERM
	done  chan struct{} // closed when it has exited
	err   error         // its exit, valid after done
}

// start runs the command with its output appended to logDir/NAME.log.
func start(name, logDir string, cmd *exec.Cmd) (*proc, error) {
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: open log: %w", name, err)
	}
	fmt.Fprintf(f, "\n--- %s %s\n", time.Now().Format(time.RFC3339), strings.Join(cmd.Args, " "))
	cmd.Stdout, cmd.Stderr = f, f
	// Pdeathsig: if voxdev itself is killed, its direct children die too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: start %s: %w", name, cmd.Path, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, waits up to grace (or until
// force is closed), then kills the group and every process the part
// started, wherever it is: an nginx worker in the group outliving its
// master, a voxfleet worker in a group of its own. It returns once the
// process has exited.
func (p *proc) stop(grace time.Duration, force <-chan struct{}) {
	pid := p.cmd.Process.Pid
	// Known before the stop: once the part has exited, its children belong
	// to init and can no longer be told from anyone else's.
	tree := descendants(pid)
	if !p.exited() {
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
		case <-force:
		}
	}
	tree = append(tree, descendants(pid)...)
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	for _, c := range tree {
		_ = syscall.Kill(c, syscall.SIGKILL)
	}
	<-p.done
}

// descendants lists the processes under pid (its children, theirs, …),
// read from /proc.
func descendants(pid int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			children[ppid] = append(children[ppid], child)
		}
	}
	var out []int
	next := []int{pid}
	for len(next) > 0 {
		p := next[0]
		next = next[1:]
		for _, c := range children[p] {
			out = append(out, c)
			next = append(next, c)
		}
	}
	return out
}

// tail is the end of the process's log, for error messages.
func (p *proc) tail() string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return ""
	}
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// runOnce runs a command to completion with its output in logDir/NAME.log,
// and fails with the output's tail when the command does.
func runOnce(ctx context.Context, name, logDir string, cmd *exec.Cmd) error {
	f, err := os.OpenFile(filepath.Join(logDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("%s: open log: %w", name, err)
	}
	defer f.Close()
	var out strings.Builder
	cmd.Stdout = io.MultiWriter(f, &out)
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: start: %w", name, err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err = <-waited:
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-waited
		return ctx.Err()
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("%s: %w\n%s", name, err, strings.TrimSpace(out.String()))
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
