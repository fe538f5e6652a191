package testnginx_test

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voxplatform/vox/internal/testnginx"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestStartServesReloadsAndStops(t *testing.T) {
	var pid int
	var prefix string
	t.Run("run", func(t *testing.T) {
		sock := filepath.Join(testnginx.ShortTempDir(t), "b.sock")
		testnginx.ServeUnix(t, sock, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "from backend\n")
		}))
		n := testnginx.Start(t, testnginx.Options{Workers: 2, Site: `
upstream b { server unix:` + sock + `; }
server {
    listen {{.Addr}};
    location = /static { return 200 "port {{.Port}}\n"; }
    location / { proxy_pass http://b; }
}
`})
		prefix = n.Prefix
		if code, body := get(t, n.URL("/static")); code != 200 || body != "port "+strconv.Itoa(n.Port)+"\n" {
			t.Fatalf("GET /static = %d %q", code, body)
		}
		if code, body := get(t, n.URL("/x")); code != 200 || body != "from backend\n" {
			t.Fatalf("GET /x = %d %q", code, body)
		}
		if out, err := exec.Command("/bin/sh", "-c", n.TestCmd()).CombinedOutput(); err != nil {
			t.Fatalf("TestCmd %q: %v: %s", n.TestCmd(), err, out)
		}

		// A changed site is served after Reload.
		site, _ := os.ReadFile(n.Site)
		site = []byte(strings.Replace(string(site), `"port `, `"reloaded `, 1))
		if err := os.WriteFile(n.Site, site, 0o644); err != nil {
			t.Fatal(err)
		}
		n.Reload(t)
		if code, body := get(t, n.URL("/static")); code != 200 || !strings.HasPrefix(body, "reloaded ") {
			t.Fatalf("after reload GET /static = %d %q\n%s", code, body, n.ErrorLogTail(10))
		}

		// A broken site fails TestCmd and WaitReloaded reports the emergency.
		if err := os.WriteFile(n.Site, []byte("server { bogus_directive; }\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("/bin/sh", "-c", n.TestCmd()).CombinedOutput(); err == nil {
			t.Fatalf("TestCmd passed a broken site: %s", out)
		}
		// nginx -s reload parses the configuration too, so signal directly.
		b, err := os.ReadFile(filepath.Join(n.Prefix, "nginx.pid"))
		if err != nil {
			t.Fatal(err)
		}
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		off := n.LogOffset()
		if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		if err := n.WaitReloaded(off, 5*time.Second); err == nil || !strings.Contains(err.Error(), "bogus_directive") {
			t.Fatalf("WaitReloaded after a broken reload = %v, want the emergency", err)
		}
		// The old configuration keeps serving.
		if code, body := get(t, n.URL("/static")); code != 200 || !strings.HasPrefix(body, "reloaded ") {
			t.Fatalf("after a rejected reload GET /static = %d %q", code, body)
		}
	})
	if pid == 0 {
		return
	}
	// After the test's cleanup no nginx of this prefix is left running.
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("nginx master %d still running after cleanup", pid)
	}
	out, _ := exec.Command("pgrep", "-f", prefix).Output()
	if len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("processes of %s still running: %s", prefix, out)
	}
}
