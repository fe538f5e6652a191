package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is a process the benchmark started in its own process group.
type child struct {
	what string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// startChild starts cmd in a new process group, its output going to logPath.
func startChild(what string, cmd *exec.Cmd, logPath string) (*child, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%s log: %w", what, err)
	}
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", what, err)
	}
	c := &child{what: what, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		lf.Close()
		close(c.done)
	}()
	return c, nil
}

// pid returns the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// exited reports whether the child has exited.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends sig and waits up to grace for the child to exit; then it kills
// the child's process group and every descendant it had, so that nothing the
// child started outlives it, whatever process group those are in.
func (c *child) stop(sig syscall.Signal, grace time.Duration) {
	if c == nil {
		return
	}
	desc := descendants(c.pid())
	_ = c.cmd.Process.Signal(sig)
	select {
	case <-c.done:
	case <-time.After(grace):
	}
	_ = syscall.Kill(-c.pid(), syscall.SIGKILL)
	<-c.done
	for _, p := range append(desc, descendants(c.pid())...) {
		killIfAlive(p)
	}
}

// descendants lists the processes below pid, children first.
func descendants(pid int) []int {
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", p))
		for _, t := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", p, t.Name()))
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil {
					out = append(out, c)
					queue = append(queue, c)
				}
			}
		}
	}
	return out
}

// killIfAlive kills pid unless it has already gone.
func killIfAlive(pid int) {
	if pid <= 1 || !alive(pid) {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// memKB reads a process's resident and proportional set sizes, in KiB.
func memKB(pid int) (rss, pss int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read smaps_rollup of %d: %w", pid, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		fs := strings.Fields(l)
		if len(fs) < 2 {
			continue
		}
		v, _ := strconv.Atoi(fs[1])
		switch fs[0] {
		case "Rss:":
			rss = v
		case "Pss:":
			pss = v
		}
	}
	if rss == 0 {
		return 0, 0, errors.New("smaps_rollup of " + strconv.Itoa(pid) + " has no Rss")
	}
	return rss, pss, nil
}

// killPID sends SIGKILL to pid.
func killPID(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill -9 %d: %w", pid, err)
	}
	return nil
}
