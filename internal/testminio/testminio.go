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
}

// Start runs MinIO for the test; it stops when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := lookup(t)
	dir := t.TempDir()
	api, console := freePort(t), freePort(t)
	cmd := exec.Command(bin, "server", filepath.Join(dir, "data"),
		"--address", api, "--console-address", console, "--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+AccessKey, "MINIO_ROOT_PASSWORD="+SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "HOME="+dir)
	logf, err := os.Create(filepath.Join(dir, "minio.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start minio: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		logf.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+api+"/minio/health/ready", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if ctx.Err() != nil {
			tail, _ := os.ReadFile(logf.Name())
			t.Fatalf("minio not ready on %s: %v\n%s", api, err, tail)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return &Server{Endpoint: api}
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
