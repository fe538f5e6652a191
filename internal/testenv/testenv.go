// Package testenv finds the real servers and tools that tests run against
// (nginx, redis-server, haproxy, systemd-analyze, …) and says how to install
// the missing ones. Inside CI (CI set) a missing tool fails the test; outside
// it the test is skipped with the install step in its message.
//
// It is imported only by tests.
package testenv

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// InCI reports whether the tests run under CI, where nothing may be skipped.
func InCI() bool { return os.Getenv("CI") != "" }

// Require returns the path of the executable name, or ends the test: failed
// in CI, skipped elsewhere, either way naming how to install it.
func Require(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	Unavailable(t, name+" not found ("+install+"; or run `make deps`)")
	return ""
}

// Unavailable ends a test whose tool or fixture is missing: failed in CI,
// where nothing may be skipped, skipped elsewhere.
func Unavailable(t testing.TB, why any) {
	t.Helper()
	if InCI() {
		t.Fatal(why)
	}
	t.Skip(why)
}

// StopGroup ends a server started in its own process group: SIGTERM to the
// group, then SIGKILL if it has not exited after grace. It waits for the
// process either way.
func StopGroup(cmd *exec.Cmd, grace time.Duration) {
	pid := cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-done
	}
}
