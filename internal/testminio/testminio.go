package testminio

import (
	"context"
	"fmt"
	"net"
	"net/http"
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

// Install says how to get the minio binary.
const Install = "scripts/deps-minio.sh, i.e. go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"

// Root credentials of every test server.
const (
	AccessKey = "voxtestadmin"
	SecretKey = "voxtestadmin-secret"
)

// Server is a running MinIO.
type Server struct {
	// Endpoint is host:port of the S3 API.
	Endpoint string

	t       testing.TB
	bin     string
	dir     string
	console string
	mu      sync.Mutex    // guards cmd and exited: Stop may run on another goroutine
	cmd     *exec.Cmd     // nil while stopped
	exited  chan struct{} // closed when cmd has exited
	logf    *os.File
}

// Start runs MinIO for the test; it stops when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, bin: lookup(t), dir: t.TempDir(), Endpoint: freePort(t), console: freePort(t)}
	logf, err := os.Create(filepath.Join(s.dir, "minio.log"))
	if err != nil {
		t.Fatal(err)
	}
	s.logf = logf
	t.Cleanup(func() {
		s.Stop()
		logf.Close()
	})
	s.Restart()
	return s
}

// Stop kills the server at once (SIGKILL): an outage, with whatever
// request was in flight cut off. Its data stays for Restart.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
}

// Restart starts the server again on the same address and data (or
// starts it the first time) and waits until it is ready.
func (s *Server) Restart() {
	t := s.t
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command(s.bin, "server", filepath.Join(s.dir, "data"),
		"--address", s.Endpoint, "--console-address", s.console, "--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+AccessKey, "MINIO_ROOT_PASSWORD="+SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "HOME="+s.dir)
	cmd.Stdout, cmd.Stderr = s.logf, s.logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		// The port of a killed server may take a moment to free.
		if err := cmd.Start(); err != nil {
			t.Fatalf("start minio: %v", err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		if s.ready(ctx, exited) {
			s.cmd, s.exited = cmd, exited
			return
		}
		if ctx.Err() != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			tail, _ := os.ReadFile(s.logf.Name())
			t.Fatalf("minio not ready on %s\n%s", s.Endpoint, tail)
		}
		// It exited (address in use): try again with a fresh command.
		c := exec.Command(cmd.Path, cmd.Args[1:]...)
		c.Env, c.Stdout, c.Stderr, c.SysProcAttr = cmd.Env, cmd.Stdout, cmd.Stderr, cmd.SysProcAttr
		cmd = c
		time.Sleep(100 * time.Millisecond)
	}
}

// ready polls the health endpoint until it answers, the process exits, or
// ctx ends.
func (s *Server) ready(ctx context.Context, exited <-chan struct{}) bool {
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.Endpoint+"/minio/health/ready", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		select {
		case <-exited:
			return false
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// lookup finds minio on PATH or in $(go env GOPATH)/bin.
func lookup(t testing.TB) string {
	if p, err := exec.LookPath("minio"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, d := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(d, "bin", "minio")
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	return testenv.Require(t, "minio", Install)
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprintf("127.0.0.1:%d", l.Addr().(*net.TCPAddr).Port)
}

// Bin returns the minio executable, or ends the test naming how to install it.
func Bin(t testing.TB) string { return lookup(t) }
