package deploy

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestDiallerEnvExample checks deploy/env/voxdialler.env.example against
// the settings `voxdialler -h` lists, both ways, and the units against the
// binary's commands.
func TestDiallerEnvExample(t *testing.T) {
	env := parseEnv(t, "env/voxdialler.env.example")
	out, err := exec.Command("go", "run", "github.com/voxplatform/vox/cmd/voxdialler", "-h").CombinedOutput()
	if err != nil {
		t.Fatalf("voxdialler -h: %v\n%s", err, out)
	}
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+\$([A-Z_]+)\s`).FindAllStringSubmatch(string(out), -1) {
		listed[m[1]] = true
		if _, ok := env[m[1]]; !ok {
			t.Errorf("deploy/env/voxdialler.env.example lacks %s", m[1])
		}
	}
	if len(listed) < 20 {
		t.Fatalf("voxdialler -h lists only %d settings:\n%s", len(listed), out)
	}
	for k := range env {
		if !listed[k] {
			t.Errorf("deploy/env/voxdialler.env.example sets %s, which voxdialler does not read", k)
		}
	}
	if env["HEALTH_PORT"] != "8090" || env["LOOP_INTERVAL_SECONDS"] != "2.0" {
		t.Errorf("the example changes the seed's defaults: HEALTH_PORT=%s LOOP_INTERVAL_SECONDS=%s", env["HEALTH_PORT"], env["LOOP_INTERVAL_SECONDS"])
	}
	unit := readFile(t, "systemd/voxdialler.service")
	check := readFile(t, "systemd/voxdialler-healthcheck.service")
	for _, want := range []string{"EnvironmentFile=/opt/voxdialler/.env", "ExecStart=/usr/local/bin/voxdialler\n"} {
		if !strings.Contains(unit, want) {
			t.Errorf("voxdialler.service lacks %q", want)
		}
	}
	if !strings.Contains(check, "ExecStart=/usr/local/bin/voxdialler check") || !strings.Contains(check, "Type=oneshot") {
		t.Errorf("voxdialler-healthcheck.service does not run `voxdialler check` once")
	}
	if timer := readFile(t, "systemd/voxdialler-healthcheck.timer"); !strings.Contains(timer, "OnUnitActiveSec=") {
		t.Errorf("voxdialler-healthcheck.timer does not repeat")
	}
}
