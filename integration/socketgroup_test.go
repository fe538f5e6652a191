package integration

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voxplatform/vox/internal/testenv"
	"github.com/voxplatform/vox/internal/testnginx"
	"github.com/voxplatform/vox/upstream"
)

// TestSocketGroupLetsNginxConnect runs nginx as www-data (as Debian's does)
// with the shipped site in front of `voxfleet run`: without --socket-group
// nginx may not connect to the workers' sockets (the site answers 503 "no
// free worker" and nginx logs "Permission denied"); with --socket-group
// www-data, as `make run` passes it, calls reach the workers.
func TestSocketGroupLetsNginxConnect(t *testing.T) {
	testenv.Require(t, "nginx", "apt-get install -y nginx")
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "needs root: nginx's workers run as www-data and the sockets are given to its group")
	}
	if _, err := user.LookupGroup("www-data"); err != nil {
		t.Fatalf("group www-data: %v (apt-get install -y nginx creates it)", err)
	}
	dir := testnginx.ShortTempDir(t)
	// nginx's workers must be able to traverse the directories above the sockets.
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	up := filepath.Join(dir, "upstream.conf")
	if err := os.WriteFile(up, upstream.Render(upstream.Params{}), 0o644); err != nil {
		t.Fatal(err)
	}
	listen := freeAddr(t)
	nginx := testnginx.Start(t, testnginx.Options{Workers: 2, User: "www-data", Site: site(t, up, listen)})

	attach := func() int {
		resp, err := http.Post(nginx.URL("/attach"), "application/json", strings.NewReader("{}"))
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	refused := func() bool {
		b, _ := os.ReadFile(filepath.Join(nginx.Prefix, "voxfleet.error.log")) // the site's own error log
		return strings.Contains(string(b), "(13: Permission denied) while connecting to upstream")
	}
	run := func(t *testing.T, want int, done func() bool, extra ...string) {
		sock := filepath.Join(dir, "s")
		args := append([]string{"run", "--workers", "2", "--socket-dir", sock, "--listen", listen,
			"--upstream-file", up, "--nginx-test", nginx.TestCmd(), "--nginx-reload", nginx.ReloadCmd()}, extra...)
		cmd := exec.Command(voxfleetBin, args...)
		cmd.Env = append(os.Environ(), "VOX_SERVICE_SECRET="+secret, "VOXFLEET_FLEET_ID="+fleetID)
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("voxfleet-%d.log", want)))
		if err != nil {
			t.Fatal(err)
		}
		defer logf.Close()
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}()
		// Wait for nginx to route to both workers, then for the answer.
		deadline := time.Now().Add(15 * time.Second)
		got := 0
		for time.Now().Before(deadline) {
			b, _ := os.ReadFile(up)
			if strings.Count(string(b), "max_conns=1") == 2 {
				if got = attach(); got == want && done() {
					return
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		b, _ := os.ReadFile(logf.Name())
		t.Fatalf("POST /attach through nginx = %d, want %d (and its cause in nginx's log)\nnginx error log:\n%s\nvoxfleet:\n%s",
			got, want, nginx.ErrorLogTail(5), tail(string(b), 10))
	}
	t.Run("without --socket-group nginx is refused", func(t *testing.T) {
		run(t, http.StatusServiceUnavailable, refused)
	})
	t.Run("with --socket-group www-data calls reach the workers", func(t *testing.T) {
		run(t, http.StatusUnauthorized, func() bool { return true }, "--socket-group", "www-data")
	})
}
