package deploy

import (
	"os/exec"
	"regexp"
	"testing"
)

// TestIngressEnvExampleHasEverySetting checks the env example against the
// settings `voxingress apply -h` documents.
func TestIngressEnvExampleHasEverySetting(t *testing.T) {
	env := parseEnv(t, "env/voxingress.env.example")
	out, _ := exec.Command("go", "run", "github.com/voxplatform/vox/cmd/voxingress", "apply", "-h").CombinedOutput()
	names := regexp.MustCompile(`\$(VOXINGRESS_[A-Z_]+)`).FindAllStringSubmatch(string(out), -1)
	if len(names) < 6 {
		t.Fatalf("voxingress apply -h names only %d settings:\n%s", len(names), out)
	}
	seen := map[string]bool{}
	for _, m := range names {
		seen[m[1]] = true
		if _, ok := env[m[1]]; !ok {
			t.Errorf("deploy/env/voxingress.env.example lacks %s", m[1])
		}
	}
	for k := range env {
		if !seen[k] {
			t.Errorf("deploy/env/voxingress.env.example sets %s, which voxingress does not read", k)
		}
	}
}
