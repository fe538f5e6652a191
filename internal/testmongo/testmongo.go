package testmongo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/voxplatform/vox/internal/testenv"
)

// Server is one running (or stopped) FerretDB process with a fixed port and
// data directory.
type Server struct {
	bin  string
	addr string
	dir  string

	mu  sync.Mutex // guards cmd and log
	cmd *exec.Cmd
	log *os.File
}

// Start runs a MongoDB-wire server for the test and returns its URI. The
// server stops when the test ends.
func Start(t testing.TB) string {
	t.Helper()
	return StartServer(t).URI()
}

// StartServer is Start returning the Server, so that the test can Stop and
// Restart it.
func StartServer(t testing.TB) *Server {
	t.Helper()
	testenv.Require(t, "go", "install Go 1.26")
	bin, err := Binary()
	if err != nil {
		t.Fatalf("testmongo: %v (run scripts/deps-ferretdb.sh)", err)
	}
	s, err := Launch(bin, t.TempDir())
	if err != nil {
		t.Fatalf("testmongo: %v", err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(s.dir, "ferretdb.log")); err == nil && len(b) > 0 {
				if len(b) > 8000 {
					b = b[len(b)-8000:]
				}
				t.Logf("ferretdb log tail:\n%s", b)
			}
		}
	})
	return s
}

// Launch starts the server binary bin with its data in dir on a free
// loopback port. The caller must call Stop. It is meant for TestMain, where
// no testing.TB exists.
func Launch(bin, dir string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, addr: fmt.Sprintf("127.0.0.1:%d", port), dir: dir}
	if err := s.Restart(); err != nil {
		return nil, err
	}
	return s, nil
}

// URI is the MongoDB connection string of the server.
func (s *Server) URI() string { return "mongodb://" + s.addr + "/" }

// Addr is the server's host:port.
func (s *Server) Addr() string { return s.addr }

// Restart starts the server again on the same port and data directory after
// Stop. It returns once the server accepts connections.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("testmongo: server already running")
	}
	logf, err := os.OpenFile(filepath.Join(s.dir, "ferretdb.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	args := []string{"--listen", s.addr, "--dir", filepath.Join(s.dir, "data")}
	if os.Getenv("TESTMONGO_VERBOSE") != "" {
		args = append(args, "-v")
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return fmt.Errorf("stdout pipe: %w", err)
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() && strings.HasPrefix(sc.Text(), "ready ") {
			ready <- nil
		} else {
			ready <- errors.New("server exited before it was ready")
		}
		for sc.Scan() {
		}
	}()
	select {
	case err = <-ready:
	case <-time.After(30 * time.Second):
		err = errors.New("server not ready after 30s")
	}
	if err == nil {
		err = waitDial(s.addr, 30*time.Second)
	}
	if err != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		logf.Close()
		tail, _ := os.ReadFile(logf.Name())
		return fmt.Errorf("start ferretdb on %s: %w\n%s", s.addr, err, tail)
	}
	s.cmd, s.log = cmd, logf
	return nil
}

// Stop ends the server (SIGTERM, then SIGKILL after 5 s) and waits for it.
// Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	testenv.StopGroup(s.cmd, 5*time.Second)
	s.log.Close()
	s.cmd, s.log = nil, nil
}

// Freeze stops the server's processes with SIGSTOP: connections stay open
// and nothing answers, as with a hung database. Thaw resumes them.
func (s *Server) Freeze() error { return s.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server with SIGCONT.
func (s *Server) Thaw() error { return s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return errors.New("testmongo: server not running")
	}
	if err := syscall.Kill(-s.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("testmongo: signal %v: %w", sig, err)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitDial(addr string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("dial %s: %w", addr, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
