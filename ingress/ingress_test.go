package ingress

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/voxplatform/vox/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var twoFleets = State{Fleets: []Fleet{
	{Name: "eu-1", URL: "https://localhost:8443"},
	{Name: "eu-2", URL: "http://10.0.0.7:8080", Drain: true},
}}

var goldens = []struct {
	golden string
	s      State
	p      Params
}{
	{"empty.cfg", State{}, Params{StatsSocket: "-"}},
	{"two.cfg", twoFleets, Params{Cert: "/etc/haproxy/certs/vox.pem", Source: "/etc/voxingress/state.json"}},
}

func TestRenderGolden(t *testing.T) {
	for _, tt := range goldens {
		t.Run(tt.golden, func(t *testing.T) {
			got, err := Render(tt.s, tt.p)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tt.golden)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./ingress -update to create it)", err)
			}
			if string(got) != string(want) {
				t.Fatalf("render differs from %s (go test ./ingress -update if intended):\n%s", path, got)
			}
		})
	}
}

func TestRenderedConfigPassesHAProxyCheck(t *testing.T) {
	haproxy := testenv.Require(t, "haproxy", "apt-get install -y haproxy")
	dir := t.TempDir()
	cert := filepath.Join(dir, "vox.pem")
	writeCert(t, cert)
	for _, tt := range goldens {
		t.Run(tt.golden, func(t *testing.T) {
			p := tt.p
			if p.Cert != "" {
				p.Cert = cert
			}
			if p.StatsSocket == "" {
				p.StatsSocket = filepath.Join(dir, "admin.sock")
			}
			cfg, err := Render(tt.s, p)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "haproxy.cfg")
			if err := os.WriteFile(path, cfg, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(haproxy, "-c", "-f", path).CombinedOutput()
			if err != nil || strings.Contains(string(out), "[WARNING]") || strings.Contains(string(out), "[ALERT]") {
				t.Fatalf("haproxy -c: %v\n%s\n%s", err, out, cfg)
			}
		})
	}
}

func TestRenderRefusesBadInput(t *testing.T) {
	tests := []struct {
		name string
		s    State
		p    Params
		want string
	}{
		{"bad name", State{Fleets: []Fleet{{Name: "a b", URL: "http://a"}}}, Params{}, "fleet name"},
		{"bad scheme", State{Fleets: []Fleet{{Name: "a", URL: "ftp://a"}}}, Params{}, "scheme"},
		{"path", State{Fleets: []Fleet{{Name: "a", URL: "http://a/ws"}}}, Params{}, "nothing else"},
		{"no host", State{Fleets: []Fleet{{Name: "a", URL: "http://"}}}, Params{}, "nothing else"},
		{"same name", State{Fleets: []Fleet{{Name: "a", URL: "http://a"}, {Name: "a", URL: "http://b"}}}, Params{}, "twice"},
		{"same address", State{Fleets: []Fleet{{Name: "a", URL: "https://a"}, {Name: "b", URL: "http://a:443"}}}, Params{}, "already fronted"},
		{"quote in cert", State{}, Params{Cert: `/x"y`}, "not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render(tt.s, tt.p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Render: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestStateEdits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s, err := Load(path)
	if err != nil || len(s.Fleets) != 0 {
		t.Fatalf("Load of a missing file: %+v, %v", s, err)
	}
	s, err = s.Add(Fleet{Name: "a", URL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(Fleet{Name: "a", URL: "http://127.0.0.1:2"}); err == nil {
		t.Fatal("Add of an existing name succeeded")
	}
	if s, err = s.SetDrain("a", true); err != nil || !s.Fleets[0].Drain {
		t.Fatalf("SetDrain: %+v, %v", s, err)
	}
	if _, err := s.SetDrain("x", true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetDrain of an unknown fleet: %v", err)
	}
	if err := Save(path, s); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil || len(got.Fleets) != 1 || got.Fleets[0] != s.Fleets[0] {
		t.Fatalf("Load after Save: %+v, %v", got, err)
	}
	if s, err = s.Remove("a"); err != nil || len(s.Fleets) != 0 {
		t.Fatalf("Remove: %+v, %v", s, err)
	}
	if _, err := s.Remove("a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Remove of an unknown fleet: %v", err)
	}
	if err := os.WriteFile(path, []byte(`{"fleets":[{"name":"a","url":"http://x","extra":1}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil {
		t.Fatal("Load accepted an unknown field")
	}
}

// TestApplyKeepsOldConfigOnFailedCheck checks that a candidate HAProxy
// refuses never replaces the live file and never reloads, and that a good
// one is installed and reloaded once.
func TestApplyKeepsOldConfigOnFailedCheck(t *testing.T) {
	haproxy := testenv.Require(t, "haproxy", "apt-get install -y haproxy")
	dir := t.TempDir()
	live := filepath.Join(dir, "haproxy.cfg")
	reloads := filepath.Join(dir, "reloads")
	a := Applier{Config: live, HAProxy: haproxy, Reload: "echo reload >> " + reloads}
	ctx := context.Background()
	p := Params{Listen: "127.0.0.1:18443", StatsSocket: "-"}

	good, err := Render(twoFleets, p)
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := a.Apply(ctx, good); err != nil || !changed {
		t.Fatalf("Apply good: changed=%v err=%v", changed, err)
	}
	if changed, err := a.Apply(ctx, good); err != nil || changed {
		t.Fatalf("Apply of the same config: changed=%v err=%v", changed, err)
	}
	// A certificate that does not exist: haproxy -c fails.
	p.Cert = filepath.Join(dir, "missing.pem")
	bad, err := Render(twoFleets, p)
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Apply(ctx, bad)
	var ce *CheckError
	if !errors.As(err, &ce) {
		t.Fatalf("Apply bad: %v, want a CheckError", err)
	}
	if b, _ := os.ReadFile(live); string(b) != string(good) {
		t.Fatal("a refused configuration replaced the live one")
	}
	if b, _ := os.ReadFile(reloads); strings.Count(string(b), "reload") != 1 {
		t.Fatalf("reloads = %q, want exactly one (for the good config)", b)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".*")); len(m) != 0 {
		t.Fatalf("candidate files left behind: %v", m)
	}
	// A reload that fails is reported; the checked file stays.
	a.Reload = "echo nope >&2; exit 3"
	p.Cert = ""
	p.Listen = "127.0.0.1:1"
	other, _ := Render(twoFleets, p)
	_, err = a.Apply(ctx, other)
	var re *ReloadError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("Apply with a failing reload: %v", err)
	}
	if b, _ := os.ReadFile(live); string(b) != string(other) {
		t.Fatal("a checked configuration was not kept after a failed reload")
	}
}

func TestParseStats(t *testing.T) {
	text := "# pxname,svname,qcur,qmax,scur,smax,slim,stot,status,check_status,\n" +
		"vox_ingress,FRONTEND,,,3,5,,10,OPEN,,\n" +
		"vox_fleets,a,0,0,2,3,,7,UP,L7OK,\n" +
		"vox_fleets,b,0,0,0,0,,0,DOWN,L7STS,\n" +
		"vox_fleets,BACKEND,0,0,2,3,,7,UP,,\n"
	got, err := parseStats(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["a"] != (ServerStat{Name: "a", Status: "UP", Sessions: 2, Total: 7, Check: "L7OK"}) ||
		got["b"].Status != "DOWN" {
		t.Fatalf("parseStats = %+v", got)
	}
	if _, err := parseStats("Unknown command\n"); err == nil {
		t.Fatal("parseStats accepted an error answer")
	}
}
