package testredis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/voxplatform/vox/internal/testenv"
)

// Install says how to get redis-server.
const Install = "apt-get install -y redis-server"

// Server is one redis-server process with a fixed port.
type Server struct {
	bin  string
	port int
	dir  string

	mu  sync.Mutex // guards cmd
	cmd *exec.Cmd
}

// Start runs redis-server for the test and returns its redis:// URL. The
// server stops when the test ends.
func Start(t testing.TB) string {
	t.Helper()
	return StartServer(t).URL()
}

// StartServer is Start returning the Server, so that the test can Stop and
// Restart it.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin := testenv.Require(t, "redis-server", Install)
	s, err := Launch(bin, t.TempDir())
	if err != nil {
		t.Fatalf("testredis: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Launch starts redis-server (path bin) with dir as its working directory on
// a free loopback port. The caller must call Stop. It is meant for TestMain.
func Launch(bin, dir string) (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{bin: bin, port: port, dir: dir}
	if err := s.Restart(); err != nil {
		return nil, err
	}
	return s, nil
}

// URL is the redis:// URL of the server.
func (s *Server) URL() string { return fmt.Sprintf("redis://%s/0", s.Addr()) }

// Addr is the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Restart starts the server again on the same port after Stop and returns
// once it accepts connections. Its data is gone: it never persists.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("testredis: server already running")
	}
	logf := filepath.Join(s.dir, "redis.log")
	cmd := exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--logfile", logf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	if err := waitPing(s.Addr(), 10*time.Second); err != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		tail, _ := os.ReadFile(logf)
		return fmt.Errorf("start redis-server on %s: %w\n%s", s.Addr(), err, tail)
	}
	s.cmd = cmd
	return nil
}

// Stop ends the server and waits for it. Stopping a stopped server does
// nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	testenv.StopGroup(s.cmd, 5*time.Second)
	s.cmd = nil
}

// waitPing dials addr until redis answers PING with PONG.
func waitPing(addr string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var last error
	for {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			_, err = c.Write([]byte("PING\r\n"))
			buf := make([]byte, 7)
			if err == nil {
				var n int
				n, err = c.Read(buf)
				if err == nil && string(buf[:n]) != "+PONG\r\n" {
					err = fmt.Errorf("unexpected reply %q", buf[:n])
				}
			}
			c.Close()
			if err == nil {
				return nil
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("ping %s: %w", addr, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
