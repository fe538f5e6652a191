package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/voxplatform/vox/internal/testenv"
)

// cli runs voxingress with the given arguments against files in dir.
func cli(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	t.Setenv("VOXINGRESS_STATE", filepath.Join(dir, "state.json"))
	t.Setenv("VOXINGRESS_CONFIG", filepath.Join(dir, "haproxy.cfg"))
	t.Setenv("VOXINGRESS_RELOAD", "echo reloaded >> "+filepath.Join(dir, "reloads"))
	t.Setenv("VOXINGRESS_LISTEN", "127.0.0.1:18443")
	t.Setenv("VOXINGRESS_STATS_SOCKET", filepath.Join(dir, "admin.sock"))
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCommands(t *testing.T) {
	testenv.Require(t, "haproxy", "apt-get install -y haproxy")
	dir := t.TempDir()
	steps := []struct {
		args     []string
		code     int
		out, err string
	}{
		{nil, exitUsage, "", "usage: voxingress"},
		{[]string{"bogus"}, exitUsage, "", "unknown command"},
		{[]string{"add-fleet", "a"}, exitUsage, "", "takes 2 argument"},
		{[]string{"add-fleet", "a b", "http://127.0.0.1:1"}, exitUsage, "", "fleet name"},
		{[]string{"add-fleet", "a", "ftp://x"}, exitUsage, "", "scheme"},
		{[]string{"add-fleet", "a", "http://127.0.0.1:8001"}, exitOK, "HAProxy reloaded", ""},
		{[]string{"add-fleet", "a", "http://127.0.0.1:8002"}, exitFail, "", "already exists"},
		{[]string{"add-fleet", "b", "http://127.0.0.1:8002"}, exitOK, "(2 fleet hosts)", ""},
		{[]string{"drain", "b"}, exitOK, "HAProxy reloaded", ""},
		{[]string{"drain", "b"}, exitOK, "unchanged", ""},
		{[]string{"drain", "zz"}, exitFail, "", "no such fleet"},
		{[]string{"list"}, exitOK, "b     http://127.0.0.1:8002  drain", "no live status"},
		{[]string{"remove-fleet", "a"}, exitOK, "(1 fleet hosts)", ""},
		{[]string{"render"}, exitOK, "server b 127.0.0.1:8002 check weight 0", ""},
		// A certificate that does not exist: haproxy -c refuses, nothing changes.
		{[]string{"add-fleet", "c", "http://127.0.0.1:8003", "--cert", filepath.Join(dir, "missing.pem")}, exitFail, "", "nothing changed"},
		{[]string{"list", "--json"}, exitOK, `"fleets":[{"name":"b","url":"http://127.0.0.1:8002","drain":true}]`, ""},
	}
	for _, s := range steps {
		code, out, errs := cli(t, dir, s.args...)
		if code != s.code || !strings.Contains(out, s.out) || !strings.Contains(errs, s.err) {
			t.Fatalf("voxingress %s: exit %d, want %d\nstdout: %s\nstderr: %s\nwant stdout containing %q, stderr containing %q",
				strings.Join(s.args, " "), code, s.code, out, errs, s.out, s.err)
		}
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "haproxy.cfg"))
	if strings.Contains(string(cfg), "127.0.0.1:8003") || strings.Contains(string(cfg), "127.0.0.1:8001") {
		t.Fatalf("live configuration has a refused or removed fleet:\n%s", cfg)
	}
	reloads, _ := os.ReadFile(filepath.Join(dir, "reloads"))
	if n := strings.Count(string(reloads), "reloaded"); n != 4 {
		t.Fatalf("%d reloads, want 4 (add a, add b, drain b, remove a)", n)
	}
}
