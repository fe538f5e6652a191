package integration

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voxplatform/vox/fleetapi"
)

// envReload is the env example's VOXFLEET_NGINX_RELOAD, pointed at the
// test's nginx: its pid file and its reload command.
func envReload(t *testing.T, pidFile, reload string) string {
	t.Helper()
	f, err := os.Open("../deploy/env/voxfleet.env.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "VOXFLEET_NGINX_RELOAD=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"`)
		for _, must := range []string{"/run/nginx.pid", "/usr/sbin/nginx -s reload"} {
			if !strings.Contains(v, must) {
				t.Fatalf("VOXFLEET_NGINX_RELOAD changed shape (no %q): %s; update this test", must, v)
			}
		}
		v = strings.ReplaceAll(v, "/run/nginx.pid", pidFile)
		return strings.ReplaceAll(v, "/usr/sbin/nginx -s reload", reload)
	}
	t.Fatal("the env example sets no VOXFLEET_NGINX_RELOAD")
	return ""
}

// directHealth reads /health/fleet from the daemon itself, not through nginx.
func (f *fleet) directHealth() fleetapi.Fleet {
	var fl fleetapi.Fleet
	resp, err := http.Get("http://" + f.listen + "/health/fleet")
	if err != nil {
		return fl
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(&fl)
	return fl
}

// TestEnvReloadGuardSparesStalePID: a stale pid file that names a live
// process other than nginx. The env example's reload command must not
// signal that process (nginx -s reload would send it SIGHUP) and must fail
// with a clear message instead of pretending nginx reloaded.
func TestEnvReloadGuardSparesStalePID(t *testing.T) {
	dir := t.TempDir()
	sleeper := exec.Command("sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })
	pidFile := dir + "/nginx.pid"
	os.WriteFile(pidFile, []byte(strings.TrimSpace(itoaa(sleeper.Process.Pid))+"\n"), 0o644)
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		t.Fatal("nginx not installed: apt-get install -y nginx")
	}
	cmd := envReload(t, pidFile, nginx+" -g 'pid "+pidFile+";' -s reload")
	out, err := exec.Command("/bin/sh", "-c", cmd).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "nginx is not running") {
		t.Fatalf("reload with a stale pid file: %v\n%s", err, out)
	}
	if syscall.Kill(sleeper.Process.Pid, 0) != nil {
		t.Fatal("the process named by the stale pid file was signalled")
	}
	os.Remove(pidFile)
	if out, err := exec.Command("/bin/sh", "-c", cmd).CombinedOutput(); err == nil || !strings.Contains(string(out), "nginx is not running") {
		t.Fatalf("reload without a pid file: %v\n%s", err, out)
	}
}

// TestNginxDownKeepsUpstreamFile: nginx is not running (killed, its pid
// file stale) when the daemon renders the upstream file. nginx -t passes,
// the reload fails: the file stays, so nginx can start with it; meanwhile
// /health/fleet says the upstream is not applied, why, and counts no worker
// as free. Once nginx runs again the retry applies the set and the workers
// take calls through it.
func TestNginxDownKeepsUpstreamFile(t *testing.T) {
	f := startFleet(t, 2, 0)
	f.waitReady(2)
	// The shipped reload command, aimed at this nginx.
	f.args = append(f.args, "--nginx-reload", envReload(t, f.nginx.PidFile(), f.nginx.ReloadCmd()))

	// nginx crashes; the daemon is restarted on a host without an upstream
	// file yet (as on first install), so the file it renders is the only one.
	f.nginx.Kill()
	if _, err := os.Stat(f.nginx.PidFile()); err != nil {
		t.Fatalf("nginx's pid file should stay behind after a crash: %v", err)
	}
	f.cmd.Process.Signal(syscall.SIGTERM)
	<-f.exited
	os.Remove(f.upstream)
	f.startDaemon()

	var fl fleetapi.Fleet
	// The tested file with both workers stays in place while the reload fails.
	f.waitFor(15*time.Second, "the upstream file rendered and reported not applied", func() bool {
		fl = f.directHealth()
		return fl.Ready == 2 && fl.Upstream != nil && fl.Upstream.Error != "" && f.upstreamServers() == 2
	})
	if u := fl.Upstream; u.Applied || u.Servers != 0 || !strings.Contains(u.Error, "nginx is not running") {
		t.Fatalf("upstream = %+v, want not applied, 0 servers, nginx not running", u)
	}
	if fl.Free != 0 || fl.Status != fleetapi.FleetDegraded {
		t.Fatalf("fleet with nginx down: status %s, free %d; want degraded, 0 free", fl.Status, fl.Free)
	}
	for _, w := range fl.Workers {
		if !w.NotRouted {
			t.Errorf("worker %d not marked as not routed: %+v", w.Index, w)
		}
	}
	out, _ := exec.Command(f.bin, "status", "--socket-dir", f.dir+"/s").CombinedOutput()
	if !strings.Contains(string(out), "nginx upstream NOT APPLIED") {
		t.Errorf("status does not say the upstream is not applied:\n%s", out)
	}
	b, _ := json.Marshal(fl.Upstream)
	t.Logf("with nginx down: status %s, ready %d, free %d, upstream %s\n%s", fl.Status, fl.Ready, fl.Free, b, out)

	// nginx starts with the kept file; the daemon's retry applies the set.
	if err := f.nginx.Restart(); err != nil {
		t.Fatalf("nginx cannot start after the daemon rendered its upstream: %v", err)
	}
	f.waitFor(45*time.Second, "the upstream applied after nginx came back", func() bool {
		fl = f.directHealth()
		return fl.Upstream != nil && fl.Upstream.Applied && fl.Free == 2
	})
	if fl.Status != fleetapi.FleetOK || fl.Upstream.Error != "" {
		t.Fatalf("fleet after nginx came back: %+v", fl)
	}
	f.waitReady(2)
	hangUp(t, f.call(t))
}
