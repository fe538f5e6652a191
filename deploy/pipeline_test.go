package deploy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voxplatform/vox/internal/testenv"
	"github.com/voxplatform/vox/internal/testnginx"
)

// deployRig is a repository checkout to package releases from, and a host
// reached through a fake ssh that runs the commands locally against a
// temporary root (VOX_ROOT). sudo runs the command as is; systemctl, which
// cannot run here (systemd is not PID 1), records what it was asked.
type deployRig struct {
	t    *testing.T
	co   string // checkout: bin/, deploy/, scripts/
	root string // the host's /
	logs string
	env  []string
}

func newDeployRig(t *testing.T) *deployRig {
	t.Helper()
	testenv.Require(t, "curl", "apt-get install -y curl")
	testenv.Require(t, "tar", "apt-get install -y tar")
	base := testnginx.ShortTempDir(t)
	r := &deployRig{t: t, co: filepath.Join(base, "co"), root: filepath.Join(base, "h"), logs: filepath.Join(base, "log")}
	fake := filepath.Join(base, "fake")
	for _, d := range []string{r.co + "/scripts", r.co + "/bin", r.root, r.logs, fake} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("cp", "-a", ".", filepath.Join(r.co, "deploy")).CombinedOutput(); err != nil {
		t.Fatalf("copy deploy/: %v\n%s", err, out)
	}
	for _, s := range []string{"deploy.sh", "host-install.sh"} {
		if out, err := exec.Command("cp", "-a", "../scripts/"+s, r.co+"/scripts/").CombinedOutput(); err != nil {
			t.Fatalf("copy %s: %v\n%s", s, err, out)
		}
	}
	scripts := map[string]string{
		"ssh": `#!/bin/sh
while [ $# -gt 0 ]; do case $1 in -o) shift 2;; -*) shift;; *) break;; esac; done
echo "$1" >>"$FAKE_LOGS/ssh"
shift
exec sh -c "$*"
`,
		"sudo":      "#!/bin/sh\nexec env \"$@\"\n",
		"systemctl": "#!/bin/sh\necho \"$*\" >>\"$FAKE_LOGS/systemctl\"\n",
	}
	for name, body := range scripts {
		write(t, filepath.Join(fake, name), body)
		if err := os.Chmod(filepath.Join(fake, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r.env = append(os.Environ(), "PATH="+fake+":"+os.Getenv("PATH"), "FAKE_LOGS="+r.logs, "VOX_ROOT="+r.root,
		"VOX_DIST="+filepath.Join(r.co, "dist"), "VOX_HEALTH_TIMEOUT=20")
	return r
}

// build puts cmd/NAME, stamped with version, into the checkout's bin/.
func (r *deployRig) build(name, version string) {
	r.t.Helper()
	out, err := exec.Command("go", "build", "-ldflags", "-X github.com/voxplatform/vox/version.Version="+version,
		"-o", filepath.Join(r.co, "bin", name), "github.com/voxplatform/vox/cmd/"+name).CombinedOutput()
	if err != nil {
		r.t.Fatalf("build %s: %v\n%s", name, err, out)
	}
}

// run runs scripts/deploy.sh in the checkout.
func (r *deployRig) run(extraEnv []string, args ...string) (string, int) {
	r.t.Helper()
	cmd := exec.Command(filepath.Join(r.co, "scripts", "deploy.sh"), args...)
	cmd.Env = append(slices.Clone(r.env), extraEnv...)
	cmd.Dir = r.co
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return string(out), code
}

func (r *deployRig) must(args ...string) string {
	r.t.Helper()
	out, code := r.run(nil, args...)
	if code != 0 {
		r.t.Fatalf("deploy.sh %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	r.t.Logf("$ scripts/deploy.sh %s\n%s", strings.Join(args, " "), out)
	return out
}

func (r *deployRig) systemctl() string {
	b, _ := os.ReadFile(filepath.Join(r.logs, "systemctl"))
	return string(b)
}

type fleetHealth struct {
	DaemonPID int    `json:"daemon_pid"`
	Version   string `json:"version"`
	Ready     int    `json:"ready"`
	Workers   []struct {
		Version string `json:"version"`
	} `json:"workers"`
}

func getFleet(t *testing.T, listen string) fleetHealth {
	t.Helper()
	var h fleetHealth
	resp, err := http.Get("http://" + listen + "/health/fleet")
	if err != nil {
		return h
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&h)
	return h
}

func waitFleet(t *testing.T, listen, version string, workers int) fleetHealth {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		h := getFleet(t, listen)
		all := h.Ready == workers && len(h.Workers) == workers && h.Version == version
		for _, w := range h.Workers {
			all = all && w.Version == version
		}
		if all {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("fleet not on %s with %d ready workers: %+v", version, workers, h)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDeployScriptFleetRole deploys the fleet role through scripts/deploy.sh
// as the Jenkinsfile does: a first install starts the unit; later releases
// reach the running daemon through `voxfleet upgrade` (same PID, every
// worker on the new release, no restart); a rollback returns to the
// last-known-good release kept on the host.
func TestDeployScriptFleetRole(t *testing.T) {
	r := newDeployRig(t)
	listen := freeTCP(t)
	bin := filepath.Join(r.root, "usr/local/bin/voxfleet")
	envFile := filepath.Join(r.root, "etc/voxfleet/voxfleet.env")
	if err := os.MkdirAll(filepath.Dir(envFile), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, envFile, fmt.Sprintf(`VOX_SERVICE_SECRET=deploy-test-service-secret
VOXFLEET_FLEET_ID=deploy-test
VOXFLEET_WORKERS=2
VOXFLEET_SOCKET_DIR=%[1]s/s
VOXFLEET_STATE_FILE=%[1]s/var/lib/voxfleet/state.json
VOXFLEET_UPSTREAM_FILE=%[1]s/etc/voxfleet/upstream.conf
VOXFLEET_LISTEN=%[2]s
VOXFLEET_INSTALL_PATH=%[3]s
VOXFLEET_RELEASE_DIR=%[1]s/var/lib/voxfleet/releases
VOXFLEET_CANARY_PERIOD=500ms
VOXFLEET_STOP_TIMEOUT=5s
`, r.root, listen, bin))

	// Release 1, first install: the unit is started.
	r.build("voxfleet", "v1.0.0-deploytest")
	r.must("package", "v1.0.0-deploytest")
	out := r.must("deploy", "fleet", "fleet-a", "v1.0.0-deploytest")
	if !strings.Contains(r.systemctl(), "enable --now voxfleet") {
		t.Fatalf("a first install did not start the unit; systemctl got:\n%s\ndeploy said:\n%s", r.systemctl(), out)
	}
	if !strings.Contains(r.systemctl(), "daemon-reload") || !fileExists(filepath.Join(r.root, "etc/systemd/system/voxfleet.service")) {
		t.Fatalf("the units were not installed and reloaded; systemctl got:\n%s", r.systemctl())
	}
	// What systemd would now run: the installed binary with the env file.
	daemon := exec.Command(bin, "run")
	daemon.Env = append(os.Environ(), envLines(t, envFile)...)
	logf, _ := os.Create(filepath.Join(r.logs, "voxfleet.log"))
	daemon.Stdout, daemon.Stderr = logf, logf
	daemon.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testenv.StopGroup(daemon, 20*time.Second); logf.Close() })
	first := waitFleet(t, listen, "v1.0.0-deploytest", 2)
	if out := r.must("health", "fleet", "fleet-a"); !strings.Contains(out, "healthy") {
		t.Fatalf("health: %s", out)
	}
	r.must("mark-good", "fleet", "fleet-a", "v1.0.0-deploytest")

	// Release 2: upgraded in place, never restarted.
	r.build("voxfleet", "v1.1.0-deploytest")
	r.must("package", "v1.1.0-deploytest")
	before := r.systemctl()
	out = r.must("deploy", "fleet", "fleet-a", "v1.1.0-deploytest")
	if !strings.Contains(out, "zero-cut upgrade") || !strings.Contains(out, "every worker runs v1.1.0-deploytest") {
		t.Fatalf("deploy of release 2 did not upgrade in place:\n%s", out)
	}
	if r.systemctl() != before {
		t.Fatalf("the upgrade went through systemctl: %q", strings.TrimPrefix(r.systemctl(), before))
	}
	second := waitFleet(t, listen, "v1.1.0-deploytest", 2)
	if second.DaemonPID != first.DaemonPID || second.DaemonPID != daemon.Process.Pid {
		t.Fatalf("daemon pid %d → %d: the daemon was restarted, not upgraded in place", first.DaemonPID, second.DaemonPID)
	}
	if out := r.must("deploy", "fleet", "fleet-a", "v1.1.0-deploytest"); !strings.Contains(out, "nothing to upgrade") {
		t.Fatalf("a second deploy of the running release:\n%s", out)
	}

	// The run fails later on (say, another host's health check): every host
	// it touched goes back to its last-known-good release.
	out = r.must("rollback-touched")
	if !strings.Contains(out, "rolling back to v1.0.0-deploytest") {
		t.Fatalf("rollback-touched:\n%s", out)
	}
	third := waitFleet(t, listen, "v1.0.0-deploytest", 2)
	if third.DaemonPID != first.DaemonPID {
		t.Fatalf("the rollback restarted the daemon (pid %d → %d)", first.DaemonPID, third.DaemonPID)
	}
	if hosts, _ := os.ReadFile(filepath.Join(r.logs, "ssh")); !strings.Contains(string(hosts), "deploy@fleet-a") {
		t.Fatalf("ssh was not asked for deploy@fleet-a: %q", hosts)
	}
}

// envLines reads an env file as systemd's EnvironmentFile does.
func envLines(t *testing.T, path string) []string {
	var out []string
	for k, v := range parseEnv(t, path) {
		out = append(out, k+"="+v)
	}
	return out
}

// TestDeployScriptAPIRole installs voxbridge through scripts/deploy.sh:
// binary, unit, restart, and a health check that fails when nothing
// answers.
func TestDeployScriptAPIRole(t *testing.T) {
	r := newDeployRig(t)
	r.build("voxbridge", "v2.0.0-deploytest")
	r.must("package", "v2.0.0-deploytest")
	r.must("deploy", "api", "api-a", "v2.0.0-deploytest")
	out, err := exec.Command(filepath.Join(r.root, "usr/local/bin/voxbridge"), "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "v2.0.0-deploytest") {
		t.Fatalf("installed voxbridge version: %v %s", err, out)
	}
	if s := r.systemctl(); !strings.Contains(s, "restart voxbridge") {
		t.Fatalf("voxbridge was not restarted; systemctl got:\n%s", s)
	}
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(`{"status":"ok"}`))
	}))
	defer ok.Close()
	if out, code := r.run([]string{"VOX_HEALTH_API=" + ok.URL + "/health"}, "health", "api", "api-a"); code != 0 {
		t.Fatalf("health against a healthy API: exit %d\n%s", code, out)
	}
	dead := freeTCP(t)
	out2, code := r.run([]string{"VOX_HEALTH_API=http://" + dead + "/health", "VOX_HEALTH_TIMEOUT=1"}, "health", "api", "api-a")
	if code == 0 || !strings.Contains(out2, "unhealthy") {
		t.Fatalf("health against nothing: exit %d\n%s", code, out2)
	}
	t.Logf("health against nothing: exit %d\n%s", code, out2)
	// Usage errors and a missing release are refused with a message.
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"deploy", "db", "h", "v1"}, 2, "unknown role"},
		{[]string{"deploy", "api", "h", "v1;rm"}, 2, "bad version"},
		{[]string{"deploy", "api", "h", "v9.9.9"}, 1, "package v9.9.9 first"},
		{[]string{"rollback", "fleet", "api-a"}, 1, ""},
		{[]string{"frobnicate"}, 2, "usage"},
	} {
		out, code := r.run(nil, c.args...)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("deploy.sh %s: exit %d, want %d with %q\n%s", strings.Join(c.args, " "), code, c.code, c.want, out)
		}
	}
}
