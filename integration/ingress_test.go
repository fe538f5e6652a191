package integration

import (
	"bufio"
	"fmt"
	"io"
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
	"github.com/voxplatform/vox/internal/testnginx"
	"github.com/voxplatform/vox/svcauth"
	"github.com/voxplatform/vox/twilio"
)

var (
	voxingressOnce sync.Once
	voxingressBin  string
	voxingressErr  error
)

// buildVoxingress builds cmd/voxingress once for the tests that need it.
func buildVoxingress(t *testing.T) string {
	t.Helper()
	voxingressOnce.Do(func() {
		voxingressBin = filepath.Join(filepath.Dir(voxfleetBin), "voxingress")
		out, err := exec.Command("go", "build", "-o", voxingressBin, "github.com/voxplatform/vox/cmd/voxingress").CombinedOutput()
		if err != nil {
			voxingressErr = fmt.Errorf("build voxingress: %v\n%s", err, out)
		}
	})
	if voxingressErr != nil {
		t.Fatal(voxingressErr)
	}
	return voxingressBin
}

// ingressProxy is a real HAProxy in master-worker mode whose configuration
// is kept by the voxingress command.
type ingressProxy struct {
	t      *testing.T
	dir    string
	bin    string // voxingress
	addr   string
	stats  string
	cmd    *exec.Cmd
	logBuf *os.File
}

// startIngress writes the configuration for fleets with voxingress (no
// HAProxy yet, so no reload), then starts HAProxy on it.
func startIngress(t *testing.T, fleets map[string]*fleet) *ingressProxy {
	t.Helper()
	haproxy := testenv.Require(t, "haproxy", "apt-get install -y haproxy")
	dir := testnginx.ShortTempDir(t)
	ip := &ingressProxy{t: t, dir: dir, bin: buildVoxingress(t), addr: freeAddr(t), stats: filepath.Join(dir, "admin.sock")}
	for name, f := range fleets {
		ip.cli(true, "add-fleet", name, f.nginx.URL(""), "--reload", "")
	}
	lf, err := os.Create(filepath.Join(dir, "haproxy.log"))
	if err != nil {
		t.Fatal(err)
	}
	ip.logBuf = lf
	cmd := exec.Command(haproxy, "-W", "-db", "-f", filepath.Join(dir, "haproxy.cfg"))
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ip.cmd = cmd
	t.Cleanup(func() {
		testenv.StopGroup(cmd, 5*time.Second)
		lf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(lf.Name())
			t.Logf("haproxy log:\n%s", tail(string(b), 40))
		}
	})
	ip.waitFor(10*time.Second, "HAProxy to serve its stats socket", func() bool { return ip.pid() != "" })
	return ip
}

// cli runs voxingress with this ingress's files; must says whether it has
// to succeed.
func (ip *ingressProxy) cli(must bool, args ...string) (string, error) {
	ip.t.Helper()
	cmd := exec.Command(ip.bin, args...)
	cmd.Env = append(os.Environ(),
		"VOXINGRESS_STATE="+filepath.Join(ip.dir, "state.json"),
		"VOXINGRESS_CONFIG="+filepath.Join(ip.dir, "haproxy.cfg"),
		"VOXINGRESS_LISTEN="+ip.addr,
		"VOXINGRESS_CERT=",
		"VOXINGRESS_STATS_SOCKET="+ip.stats,
		"VOXINGRESS_RELOAD=kill -USR2 "+fmt.Sprint(ip.masterPID()))
	out, err := cmd.CombinedOutput()
	if must && err != nil {
		ip.t.Fatalf("voxingress %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), err
}

func (ip *ingressProxy) masterPID() int {
	if ip.cmd == nil {
		return 0
	}
	return ip.cmd.Process.Pid
}

// admin sends one command to HAProxy's admin socket.
func (ip *ingressProxy) admin(command string) string {
	c, err := net.DialTimeout("unix", ip.stats, time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(c, "%s\n", command)
	var b strings.Builder
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return b.String()
}

// pid is the PID of the HAProxy worker that answers the admin socket: it
// changes when a reload has taken effect.
func (ip *ingressProxy) pid() string {
	for _, l := range strings.Split(ip.admin("show info"), "\n") {
		if v, ok := strings.CutPrefix(l, "Pid: "); ok {
			return v
		}
	}
	return ""
}

// change runs a voxingress command that reloads HAProxy and waits until the
// new worker process serves.
func (ip *ingressProxy) change(args ...string) string {
	ip.t.Helper()
	before := ip.pid()
	out, _ := ip.cli(true, args...)
	ip.t.Logf("$ voxingress %s\n%s", strings.Join(args, " "), out)
	ip.waitFor(15*time.Second, "HAProxy to reload after voxingress "+strings.Join(args, " "), func() bool {
		p := ip.pid()
		return p != "" && p != before
	})
	return out
}

// status is HAProxy's status of one fleet host, from `voxingress list --json`.
func (ip *ingressProxy) list() string {
	out, _ := ip.cli(true, "list")
	return out
}

func (ip *ingressProxy) waitFor(d time.Duration, what string, cond func() bool) {
	ip.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			ip.t.Fatalf("timed out after %s waiting for %s\n%s", d, what, ip.list())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// call places a Twilio Media Streams call through the ingress and waits for
// the greeting.
func (ip *ingressProxy) call(t *testing.T) *twilio.Client {
	t.Helper()
	cl, resp, err := twilio.Dial(ctxT(t, 10*time.Second), twilio.ClientConfig{URL: "ws://" + ip.addr + "/ws/twilio",
		Token: token(t, svcauth.FleetAudience(fleetID))})
	if err != nil {
		body := ""
		if resp != nil {
			body = resp.Status
		}
		t.Fatalf("call through the ingress refused: %v %s\n%s", err, body, ip.list())
	}
	t.Cleanup(func() { cl.Close() })
	if err := cl.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Wait(ctxT(t, 10*time.Second), func(s twilio.Stats) bool { return s.VoicedBytes > 0 }); err != nil {
		t.Fatalf("greeting not heard through the ingress: %v", err)
	}
	return cl
}

// stillTalking checks that a call in progress still carries audio both ways:
// the caller speaks and hears the agent's echo.
func stillTalking(t *testing.T, cl *twilio.Client, what string) {
	t.Helper()
	before := cl.Stats()
	if before.Closed {
		t.Fatalf("%s: the call was cut (close code %d %q)", what, before.CloseCode, before.CloseText)
	}
	if err := cl.SendAudio(ctxT(t, 10*time.Second), append(twilio.Tone(700*time.Millisecond, 440, 8000), twilio.Silence(time.Second)...), twilio.RealTime); err != nil {
		t.Fatalf("%s: speaking: %v", what, err)
	}
	if _, err := cl.Wait(ctxT(t, 10*time.Second), func(s twilio.Stats) bool { return s.VoicedBytes > before.VoicedBytes }); err != nil {
		t.Fatalf("%s: no echo heard: %v", what, err)
	}
}

func busy(fs ...*fleet) []int {
	var n []int
	for _, f := range fs {
		h, _ := f.health()
		n = append(n, h.Busy)
	}
	return n
}

func waitBusy(t *testing.T, ip *ingressProxy, want []int, fs ...*fleet) {
	t.Helper()
	ip.waitFor(15*time.Second, fmt.Sprintf("busy workers %v", want), func() bool {
		return fmt.Sprint(busy(fs...)) == fmt.Sprint(want)
	})
}

// TestIngressSpreadsDrainsAndAdds runs two real fleet hosts (voxfleet
// behind the shipped nginx site) behind a real HAProxy configured by
// voxingress: calls spread across both, a drained host's share moves to the
// other, a third host added while calls are in flight takes new calls, a
// stopped host leaves rotation through the health check, and no call in
// progress is cut by any of it.
func TestIngressSpreadsDrainsAndAdds(t *testing.T) {
	a := startFleet(t, 3, 0)
	b := startFleet(t, 3, 0)
	a.waitReady(3)
	b.waitReady(3)
	ip := startIngress(t, map[string]*fleet{"a": a, "b": b})
	ip.waitFor(15*time.Second, "both hosts UP", func() bool {
		l := ip.list()
		return strings.Count(l, " UP ") == 2
	})

	// The ingress's own health, the fleet's capacity through it (what the
	// Backend polls), and no /metrics.
	for path, want := range map[string]string{"/health/ingress": "200", "/health/fleet": "200", "/metrics": "404"} {
		resp, err := http.Get("http://" + ip.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if fmt.Sprint(resp.StatusCode) != want {
			t.Fatalf("GET %s through the ingress: %d %s, want %s", path, resp.StatusCode, b, want)
		}
		if path == "/health/fleet" && !strings.Contains(string(b), `"free": 3`) && !strings.Contains(string(b), `"free":3`) {
			t.Fatalf("/health/fleet through the ingress: %s", b)
		}
		if path == "/metrics" && !strings.Contains(string(b), `"error"`) {
			t.Fatalf("/metrics through the ingress: %s", b)
		}
	}

	// Four calls: leastconn puts two on each host.
	var calls []*twilio.Client
	for range 4 {
		calls = append(calls, ip.call(t))
	}
	waitBusy(t, ip, []int{2, 2}, a, b)
	for _, cl := range calls {
		hangUp(t, cl)
	}
	waitBusy(t, ip, []int{0, 0}, a, b)

	// One call in flight, on whichever host leastconn chose; drain that host.
	x := ip.call(t)
	waitFor := func(cond func() bool) { ip.waitFor(15*time.Second, "the first call to land", cond) }
	var hx, ho *fleet
	var hxName string
	waitFor(func() bool {
		n := busy(a, b)
		switch {
		case n[0] == 1 && n[1] == 0:
			hx, ho, hxName = a, b, "a"
		case n[0] == 0 && n[1] == 1:
			hx, ho, hxName = b, a, "b"
		}
		return hx != nil
	})
	out := ip.change("drain", hxName)
	if !strings.Contains(out, "HAProxy reloaded") {
		t.Fatalf("voxingress drain: %s", out)
	}
	calls = calls[:0]
	for range 3 {
		calls = append(calls, ip.call(t))
	}
	waitBusy(t, ip, []int{1, 3}, hx, ho)
	stillTalking(t, x, "call on the drained host, across the reload")
	for _, cl := range calls {
		hangUp(t, cl)
	}
	waitBusy(t, ip, []int{1, 0}, hx, ho)
	// Full while it held three calls, the host left rotation; it is back
	// once its health check sees a free worker again.
	ip.waitFor(15*time.Second, "the active host UP again", func() bool {
		return strings.Count(ip.list(), " UP ") == 2
	})

	// A third host, added while a call is in flight on each of the others.
	c := startFleet(t, 3, 0)
	c.waitReady(3)
	y := ip.call(t)
	waitBusy(t, ip, []int{1, 1, 0}, hx, ho, c)
	ip.change("add-fleet", "c", c.nginx.URL(""))
	ip.waitFor(15*time.Second, "three hosts UP or DRAIN", func() bool {
		l := ip.list()
		return strings.Count(l, " UP ")+strings.Count(l, " DRAIN ") == 3
	})
	calls = calls[:0]
	for range 2 {
		calls = append(calls, ip.call(t))
	}
	ip.waitFor(15*time.Second, "the new host to take a call", func() bool {
		n := busy(hx, ho, c)
		return n[0] == 1 && n[1]+n[2] == 3 && n[2] >= 1
	})
	stillTalking(t, x, "call on the drained host, across the add-fleet reload")
	stillTalking(t, y, "call on the active host, across the add-fleet reload")
	for _, cl := range append(calls, x, y) {
		hangUp(t, cl)
	}
	waitBusy(t, ip, []int{0, 0, 0}, hx, ho, c)

	// A host whose daemon stops leaves rotation by the health check alone.
	ip.change("undrain", hxName)
	ho.cmd.Process.Signal(syscall.SIGTERM)
	<-ho.exited
	ip.waitFor(20*time.Second, "the stopped host DOWN", func() bool {
		return strings.Count(ip.list(), " DOWN ") == 1
	})
	calls = calls[:0]
	for range 4 {
		calls = append(calls, ip.call(t))
	}
	waitBusy(t, ip, []int{2, 2}, hx, c)
	for _, cl := range calls {
		hangUp(t, cl)
	}
	t.Logf("voxingress list at the end:\n%s", ip.list())
}
