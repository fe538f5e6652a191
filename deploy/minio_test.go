package deploy

import (
	"context"
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
	"github.com/voxplatform/vox/internal/testminio"
)

// TestMinioUnitAndEnvAgree checks that the unit starts MinIO with the env
// example's settings and keeps the data in its StateDirectory.
func TestMinioUnitAndEnvAgree(t *testing.T) {
	env := parseEnv(t, "env/minio.env.example")
	unit := readFile(t, "systemd/minio.service")
	if got := unitValue(t, unit, "ExecStart"); got != "/usr/local/bin/minio server $MINIO_OPTS $MINIO_VOLUMES" {
		t.Errorf("ExecStart=%s", got)
	}
	if got := unitValue(t, unit, "EnvironmentFile"); got != "/etc/minio/minio.env" {
		t.Errorf("EnvironmentFile=%s", got)
	}
	if sd := unitValue(t, unit, "StateDirectory"); !strings.HasPrefix(env["MINIO_VOLUMES"], "/var/lib/"+sd+"/") {
		t.Errorf("MINIO_VOLUMES=%s is not inside StateDirectory=%s", env["MINIO_VOLUMES"], sd)
	}
	for _, k := range []string{"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "MINIO_OPTS", "MINIO_VOLUMES"} {
		if env[k] == "" {
			t.Errorf("deploy/env/minio.env.example lacks %s", k)
		}
	}
	if !strings.Contains(env["MINIO_OPTS"], "--address 127.0.0.1:") {
		t.Errorf("MINIO_OPTS=%s: the recordings store listens on loopback only", env["MINIO_OPTS"])
	}
}

// TestMinioStartsWithEnvExample runs the real MinIO as the unit does, with
// the env example's settings; only the ports and the data directory are
// the test's own.
func TestMinioStartsWithEnvExample(t *testing.T) {
	bin := testminio.Bin(t)
	env := parseEnv(t, "env/minio.env.example")
	dir := t.TempDir()
	api, console := freeTCP(t), freeTCP(t)
	opts := strings.NewReplacer("127.0.0.1:9000", api, "127.0.0.1:9001", console).Replace(env["MINIO_OPTS"])
	if opts == env["MINIO_OPTS"] {
		t.Fatalf("MINIO_OPTS=%s: expected the ports 9000 and 9001", env["MINIO_OPTS"])
	}
	// ExecStart word-splits $MINIO_OPTS and $MINIO_VOLUMES, as systemd does.
	args := append([]string{"server"}, strings.Fields(opts)...)
	args = append(args, filepath.Join(dir, "data"))
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		if k != "MINIO_OPTS" && k != "MINIO_VOLUMES" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	logf, err := os.Create(filepath.Join(dir, "minio.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testenv.StopGroup(cmd, 10*time.Second); logf.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+api+"/minio/health/ready", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if ctx.Err() != nil {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("minio with the env example's settings is not ready: %v\n%s", err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freeTCP(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
