package main

import (
	"bufio"
	"context"
	"encoding/json"
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
	"github.com/voxplatform/vox/internal/testmongo"
	"github.com/voxplatform/vox/internal/testredis"
)

var build struct {
	once sync.Once
	path string
	err  error
}

// binary builds voxbridge once for the package's tests.
func binary(t *testing.T) string {
	t.Helper()
	testenv.Require(t, "go", "install Go 1.26")
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "voxbridge-bin-")
		if err != nil {
			build.err = err
			return
		}
		build.path = filepath.Join(dir, "voxbridge")
		out, err := exec.Command("go", "build", "-o", build.path, ".").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// runBin runs the binary with exactly env and returns exit code and output.
func runBin(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = env
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

func TestConfigFailFast(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{"nothing set", nil, []string{"MONGODB_URI", "REDIS_URL", "JWT_SECRET", "VOX_SERVICE_SECRET"}},
		{"bad values", []string{"MONGODB_URI=postgres://x", "REDIS_URL=redis://h:notaport", "JWT_SECRET=short",
			"VOX_SERVICE_SECRET=short", "VOXBRIDGE_PORT=0", "MINIO_ENDPOINT=minio:9000"},
			[]string{"MONGODB_URI", "REDIS_URL", "JWT_SECRET", "VOX_SERVICE_SECRET", "VOXBRIDGE_PORT", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"}},
		{"one missing", []string{"MONGODB_URI=mongodb://127.0.0.1:1/", "REDIS_URL=redis://127.0.0.1:1/0",
			"JWT_SECRET=" + strings.Repeat("j", 32)}, []string{"VOX_SERVICE_SECRET"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runBin(t, tt.env)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr %s", code, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, "  "+w+": ") {
					t.Errorf("stderr does not name %s:\n%s", w, stderr)
				}
			}
			if n := strings.Count(stderr, "\n  "); n != len(tt.want) {
				t.Errorf("%d problems reported, want %d:\n%s", n, len(tt.want), stderr)
			}
		})
	}
	if code, _, _ := runBin(t, nil, "frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d", code)
	}
	if code, _, _ := runBin(t, nil, "serve", "--no-such-flag"); code != 2 {
		t.Errorf("unknown flag: exit %d", code)
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestBootstrapServeAndStop(t *testing.T) {
	mongo := testmongo.Start(t)
	redisURL := testredis.Start(t)
	port := freePort(t)
	env := []string{
		"MONGODB_URI=" + mongo + "vox", "REDIS_URL=" + redisURL,
		"JWT_SECRET=" + strings.Repeat("j", 40), "VOX_SERVICE_SECRET=" + strings.Repeat("s", 20),
		"VOXBRIDGE_HOST=127.0.0.1", fmt.Sprintf("VOXBRIDGE_PORT=%d", port), "BCRYPT_COST=4",
	}
	args := []string{"bootstrap", "--org", "Acme", "--email", "Owner@Acme.test", "--password", "owner-password-1"}
	code, out, errOut := runBin(t, env, args...)
	if code != 0 || !strings.Contains(out, "created organisation") {
		t.Fatalf("bootstrap: %d %q %q", code, out, errOut)
	}
	code, out, _ = runBin(t, env, args...)
	if code != 0 || !strings.Contains(out, "nothing changed") {
		t.Fatalf("second bootstrap: %d %q", code, out)
	}
	if code, _, e := runBin(t, env, "bootstrap", "--org", "Other", "--email", "owner@acme.test", "--password", "owner-password-1"); code != 1 {
		t.Fatalf("owner of another org: %d %s", code, e)
	}
	if code, _, e := runBin(t, []string{"MONGODB_URI=" + mongo}, "bootstrap", "--org", "x"); code != 2 || !strings.Contains(e, "--email") || !strings.Contains(e, "--password") {
		t.Fatalf("bootstrap usage: %d %s", code, e)
	}

	cmd := exec.Command(binary(t))
	cmd.Env = env
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs <- sc.Text()
		}
		close(logs)
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("voxbridge not healthy: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := http.Post(base+"/api/v1/auth/login", "application/json",
		strings.NewReader(`{"email":"owner@acme.test","password":"owner-password-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	var pair map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&pair)
	resp.Body.Close()
	if resp.StatusCode != 200 || pair["access_token"] == nil {
		t.Fatalf("login after bootstrap: %d %v", resp.StatusCode, pair)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("voxbridge did not stop after SIGTERM")
	}
	var all []string
	for l := range logs {
		all = append(all, l)
	}
	joined := strings.Join(all, "\n")
	for _, want := range []string{`"component":"voxbridge"`, `"component":"fleetpoll"`, "stopping http server", "stopped"} {
		if !strings.Contains(joined, want) {
			t.Errorf("logs lack %s:\n%s", want, joined)
		}
	}
}
