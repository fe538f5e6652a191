package main

import (
	"strings"
	"testing"

	"github.com/voxplatform/vox/api/config"
	"github.com/voxplatform/vox/svcauth"
	"github.com/voxplatform/vox/version"
)

// TestHelpAndVersion: -h exits 0 and lists the commands and every setting
// the configuration loader reads, with its default; --version prints the
// version; bootstrap -h and token -h exit 0.
func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"serve", "-h"}} {
		code, out, errOut := runBin(t, nil, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d %s", args, code, errOut)
		}
		for _, w := range []string{"serve", "bootstrap", "token", "version"} {
			if !strings.Contains(out, w) {
				t.Errorf("%v: no %q in\n%s", args, w, out)
			}
		}
		lines := map[string]string{}
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) >= 2 {
				lines[f[0]] = f[1]
			}
		}
		for _, st := range config.Settings() {
			want := st.Default
			switch {
			case st.Required:
				want = "(required)"
			case want == "":
				want = "(empty)"
			}
			if got, ok := lines[st.Name]; !ok || got != want {
				t.Errorf("%v: %s listed with %q, want %q", args, st.Name, got, want)
			}
		}
	}
	if code, out, _ := runBin(t, nil, "--version"); code != 0 || strings.TrimSpace(out) != version.Version {
		t.Fatalf("--version: %d %q", code, out)
	}
	for _, cmd := range []string{"bootstrap", "token"} {
		if code, out, e := runBin(t, nil, cmd, "-h"); code != 0 || !strings.Contains(out, "usage: voxbridge "+cmd) {
			t.Fatalf("%s -h: %d %q %q", cmd, code, out, e)
		}
	}
}

// TestTokenCommand: voxbridge token signs with the secret from the
// environment; bad usage exits 2 naming what is wrong.
func TestTokenCommand(t *testing.T) {
	secret := strings.Repeat("s", 24)
	env := []string{"VOX_SERVICE_SECRET=" + secret}
	code, out, e := runBin(t, env, "token", "--audience", "runtime", "--ttl", "5m", "--subject", "nightly-export")
	if code != 0 {
		t.Fatalf("token: %d %s", code, e)
	}
	sub, err := svcauth.Verify([]byte(secret), svcauth.AudienceRuntime, strings.TrimSpace(out))
	if err != nil || sub != "nightly-export" {
		t.Fatalf("minted token: %q %v", sub, err)
	}
	if _, err := svcauth.Verify([]byte(secret), svcauth.AudienceFleet, strings.TrimSpace(out)); err == nil {
		t.Fatal("runtime token accepted by the fleet audience")
	}
	// A fleet token names the one fleet host it may drive.
	code, out, e = runBin(t, env, "token", "--audience", "fleet", "--fleet-id", "host-7")
	if code != 0 {
		t.Fatalf("fleet token: %d %s", code, e)
	}
	if _, err := svcauth.Verify([]byte(secret), svcauth.FleetAudience("host-7"), strings.TrimSpace(out)); err != nil {
		t.Fatalf("fleet token not accepted by its own fleet: %v", err)
	}
	if _, err := svcauth.Verify([]byte(secret), svcauth.FleetAudience("host-8"), strings.TrimSpace(out)); err == nil {
		t.Fatal("fleet token accepted by another fleet")
	}
	for _, tt := range []struct {
		env  []string
		args []string
		want string
	}{
		{env, []string{"token", "--audience", "fleet"}, "--fleet-id"},
		{env, []string{"token", "--audience", "fleet", "--fleet-id", "../x"}, "--fleet-id"},
		{env, []string{"token", "--audience", "runtime", "--fleet-id", "host-7"}, "--fleet-id"},
		{nil, []string{"token", "--audience", "runtime"}, "VOX_SERVICE_SECRET"},
		{env, []string{"token"}, "--audience"},
		{env, []string{"token", "--audience", "admin"}, "--audience"},
		{env, []string{"token", "--audience", "fleet", "--fleet-id", "h", "--ttl", "48h"}, "--ttl"},
		{[]string{"VOX_SERVICE_SECRET=short"}, []string{"token", "--audience", "fleet"}, "VOX_SERVICE_SECRET"},
	} {
		code, out, e := runBin(t, tt.env, tt.args...)
		if code != 2 || out != "" || !strings.Contains(e, tt.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 naming %s", tt.args, code, out, e, tt.want)
		}
	}
}
