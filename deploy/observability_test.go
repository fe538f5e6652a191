package deploy

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voxplatform/vox/internal/testenv"
	"github.com/voxplatform/vox/internal/testmongo"
	"github.com/voxplatform/vox/internal/testnginx"
	"github.com/voxplatform/vox/internal/testredis"
	"go.yaml.in/yaml/v3"
)

// promtool finds the binary scripts/deps-promtool.sh builds.
func promtool(t *testing.T) string {
	t.Helper()
	p, _ := filepath.Abs("../.cache/bin/promtool")
	if !fileExists(p) {
		msg := p + " not found (scripts/deps-promtool.sh; or run `make deps`)"
		testenv.Unavailable(t, msg)
	}
	return p
}

func TestAlertRulesPassPromtool(t *testing.T) {
	p := promtool(t)
	for _, args := range [][]string{
		{"check", "rules", "prometheus/alerts.yml"},
		// Each alert fires on the series that should raise it, and not on
		// healthy ones.
		{"test", "rules", "prometheus/alerts_test.yml"},
	} {
		out, err := exec.Command(p, args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// Every alert the rules define is exercised by the rule tests.
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, "prometheus/alerts.yml")), &rules); err != nil {
		t.Fatal(err)
	}
	tests := readFile(t, "prometheus/alerts_test.yml")
	want := []string{"VoxFleetDegraded", "VoxFleetSlotInBackoff", "VoxFleetCrashLoop", "VoxFleetUpstreamNotApplied",
		"VoxBackendDependencyDown", "VoxDiallerAbandonRateNearCap", "VoxDiallerNoLeader"}
	var have []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			have = append(have, r.Alert)
		}
	}
	for _, a := range want {
		if !slices.Contains(have, a) {
			t.Errorf("alerts.yml lacks %s", a)
		}
		if !strings.Contains(tests, "alertname: "+a+"\n") {
			t.Errorf("alerts_test.yml does not exercise %s", a)
		}
	}
}

// running is a service started for its /metrics.
type running struct {
	name    string
	metrics string // URL of /metrics
}

// buildBin builds a command of this module into dir.
func buildBin(t *testing.T, dir, pkg string) string {
	t.Helper()
	bin := filepath.Join(dir, filepath.Base(pkg))
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/voxplatform/vox/"+pkg).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// startService runs bin with args and env until the test ends, and waits
// until url answers 200.
func startService(t *testing.T, bin string, args, env []string, url string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(t.TempDir(), filepath.Base(bin)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testenv.StopGroup(cmd, 20*time.Second); logf.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("%s did not answer %s: %v\n%s", bin, url, err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	return string(b)
}

// TestServiceMetricsPassPromtool starts the real voxfleet (two workers) and
// voxbridge (on a MongoDB-wire server and Redis), runs `promtool check
// metrics` on each one's /metrics, and checks that every fleet and Backend
// series the alert rules and the dashboard use is one the services export.
// Stopping Redis must then show in voxbridge_dependency_up.
func TestServiceMetricsPassPromtool(t *testing.T) {
	p := promtool(t)
	bins := t.TempDir()
	fleetBin := buildBin(t, bins, "cmd/voxfleet")
	bridgeBin := buildBin(t, bins, "cmd/voxbridge")

	dir := testnginx.ShortTempDir(t)
	fleetAddr, bridgeAddr := freeTCP(t), freeTCP(t)
	startService(t, fleetBin, []string{"run", "--workers", "2", "--socket-dir", filepath.Join(dir, "s"),
		"--state-file", filepath.Join(dir, "state.json"), "--upstream-file", filepath.Join(dir, "upstream.conf"),
		"--listen", fleetAddr, "--stop-timeout", "5s"},
		[]string{"VOX_SERVICE_SECRET=deploy-test-service-secret", "VOXFLEET_FLEET_ID=deploy-test"},
		"http://"+fleetAddr+"/health/fleet")

	mongo := testmongo.Start(t)
	rdb := testredis.StartServer(t)
	host, port, _ := strings.Cut(bridgeAddr, ":")
	startService(t, bridgeBin, []string{"serve"}, []string{
		"MONGODB_URI=" + mongo + "vox_deploy_test", "REDIS_URL=" + rdb.URL(),
		"JWT_SECRET=deploy-test-jwt-secret-of-at-least-32-bytes-long", "VOX_SERVICE_SECRET=deploy-test-service-secret",
		"VOXBRIDGE_HOST=" + host, "VOXBRIDGE_PORT=" + port, "BCRYPT_COST=4"},
		"http://"+bridgeAddr+"/health")

	services := []running{{"voxfleet", "http://" + fleetAddr + "/metrics"}, {"voxbridge", "http://" + bridgeAddr + "/metrics"}}
	exported := map[string]bool{}
	for _, s := range services {
		text := scrape(t, s.metrics)
		cmd := exec.Command(p, "check", "metrics")
		cmd.Stdin = strings.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics on %s's /metrics: %v\n%s", s.name, err, out)
		}
		for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+) (\S+)`).FindAllStringSubmatch(text, -1) {
			exported[m[1]] = true
			if m[2] == "histogram" {
				for _, sfx := range []string{"_bucket", "_count", "_sum"} {
					exported[m[1]+sfx] = true
				}
			}
		}
	}
	// A labelled series appears only once it has a first value (a worker
	// death, a call record): those are looked up in the code that declares
	// them instead.
	declared := declaredMetrics(t, "../supervisor", "../upstream", "../api")
	used := usedMetrics(t)
	for _, m := range used {
		if !strings.HasPrefix(m, "voxfleet_") && !strings.HasPrefix(m, "voxbridge_") || exported[m] {
			continue
		}
		if !declared[m] {
			t.Errorf("%s is used by the alert rules or the dashboard, but no service exports it", m)
		} else {
			t.Logf("%s: declared, not yet in the scrape (no value yet)", m)
		}
	}
	// The Dialler's series are checked against the code that declares them.
	if fileExists("../dialler") {
		dialler := declaredMetrics(t, "../dialler")
		for _, m := range used {
			if strings.HasPrefix(m, "vox_dialler_") && !dialler[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_count"), "_sum")] {
				t.Errorf("%s is used by the alert rules or the dashboard, but dialler/ does not declare it", m)
			}
		}
	}
	if len(used) < 20 {
		t.Fatalf("only %d metrics found in the rules and the dashboard: %v", len(used), used)
	}

	text := scrape(t, services[1].metrics)
	if !strings.Contains(text, `voxbridge_dependency_up{dependency="redis"} 1`) {
		t.Fatalf("voxbridge_dependency_up does not show Redis up:\n%s", grepLines(text, "dependency_up"))
	}
	rdb.Stop()
	text = scrape(t, services[1].metrics)
	if !strings.Contains(text, `voxbridge_dependency_up{dependency="redis"} 0`) ||
		!strings.Contains(text, `voxbridge_dependency_up{dependency="mongodb"} 1`) {
		t.Fatalf("with Redis stopped, voxbridge_dependency_up says:\n%s", grepLines(text, "dependency_up"))
	}
}

// declaredMetrics lists the metric names declared (Name: "…") in the Go
// files of dirs.
func declaredMetrics(t *testing.T, dirs ...string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	re := regexp.MustCompile(`Name:\s*"([a-z_]+)"`)
	for _, d := range dirs {
		files, _ := filepath.Glob(filepath.Join(d, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			for _, m := range re.FindAllStringSubmatch(readFile(t, f), -1) {
				out[m[1]] = true
			}
		}
	}
	return out
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

var metricName = regexp.MustCompile(`\b(voxfleet_[a-z_]+|voxbridge_[a-z_]+|vox_dialler_[a-z_]+)\b`)

// usedMetrics lists the metric names the alert rules and the dashboard
// query.
func usedMetrics(t *testing.T) []string {
	t.Helper()
	seen := map[string]bool{}
	for _, e := range append(ruleExprs(t), dashboardExprs(t)...) {
		for _, m := range metricName.FindAllString(e, -1) {
			seen[m] = true
		}
	}
	var out []string
	for m := range seen {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}

func ruleExprs(t *testing.T) []string {
	t.Helper()
	var rules struct {
		Groups []struct {
			Rules []struct {
				Expr string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, "prometheus/alerts.yml")), &rules); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			out = append(out, r.Expr)
		}
	}
	return out
}

type dashboard struct {
	UID    string `json:"uid"`
	Title  string `json:"title"`
	Panels []struct {
		ID      int    `json:"id"`
		Type    string `json:"type"`
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
		} `json:"list"`
	} `json:"templating"`
}

func dashboardExprs(t *testing.T) []string {
	t.Helper()
	var d dashboard
	if err := json.Unmarshal([]byte(readFile(t, "grafana/vox.json")), &d); err != nil {
		t.Fatalf("grafana/vox.json: %v", err)
	}
	var out []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	return out
}

// TestDashboardQueriesParse checks the dashboard's shape (unique panel ids,
// a row for each service) and has promtool parse every query, with the
// dashboard's variables filled in, as recording rules.
func TestDashboardQueriesParse(t *testing.T) {
	p := promtool(t)
	var d dashboard
	if err := json.Unmarshal([]byte(readFile(t, "grafana/vox.json")), &d); err != nil {
		t.Fatalf("grafana/vox.json: %v", err)
	}
	if d.UID == "" || d.Title == "" {
		t.Error("dashboard without uid or title")
	}
	ids := map[int]bool{}
	var rows []string
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, pn := range d.Panels {
		if ids[pn.ID] {
			t.Errorf("panel id %d used twice", pn.ID)
		}
		ids[pn.ID] = true
		if pn.Type == "row" {
			rows = append(rows, pn.Title)
			continue
		}
		if len(pn.Targets) == 0 {
			t.Errorf("panel %q has no query", pn.Title)
		}
		for _, tg := range pn.Targets {
			expr := regexp.MustCompile(`\$(\w+)`).ReplaceAllStringFunc(tg.Expr, func(v string) string {
				if !vars[v[1:]] {
					t.Errorf("panel %q uses %s, which the dashboard does not define", pn.Title, v)
				}
				return ".*"
			})
			n++
			b, _ := json.Marshal(expr)
			fmt.Fprintf(&rules, "      - record: dashboard:q%d\n        expr: %s\n", n, b)
		}
	}
	for _, want := range []string{"Fleet", "Backend", "Dialler"} {
		if !slices.ContainsFunc(rows, func(r string) bool { return strings.HasPrefix(r, want) }) {
			t.Errorf("no %s row in the dashboard (rows: %v)", want, rows)
		}
	}
	f := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	write(t, f, rules.String())
	if out, err := exec.Command(p, "check", "rules", f).CombinedOutput(); err != nil {
		t.Fatalf("a dashboard query does not parse: %v\n%s", err, out)
	}
}
