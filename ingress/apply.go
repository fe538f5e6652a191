package ingress

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Applier installs a rendered configuration on a live HAProxy.
type Applier struct {
	// Config is the live configuration file HAProxy reads.
	Config string
	// HAProxy is the haproxy executable used to check a candidate.
	HAProxy string
	// Reload makes HAProxy load Config; run through sh -c. Empty: no
	// reload (HAProxy reads the file when it starts).
	Reload string
}

// CheckError is a candidate configuration HAProxy refused; the live one was
// left in place.
type CheckError struct {
	Output string
	Err    error
}

func (e *CheckError) Error() string {
	return fmt.Sprintf("haproxy -c refused the new configuration (the running one is unchanged): %v\n%s", e.Err, strings.TrimSpace(e.Output))
}

func (e *CheckError) Unwrap() error { return e.Err }

// ReloadError is a configuration that passed haproxy -c and was installed,
// but whose reload failed.
type ReloadError struct {
	Output string
	Err    error
}

func (e *ReloadError) Error() string {
	return fmt.Sprintf("reload: %v\n%s", e.Err, strings.TrimSpace(e.Output))
}

func (e *ReloadError) Unwrap() error { return e.Err }

// Check runs haproxy -c on the file at path.
func (a Applier) Check(ctx context.Context, path string) error {
	bin := a.HAProxy
	if bin == "" {
		bin = "haproxy"
	}
	out, err := exec.CommandContext(ctx, bin, "-c", "-f", path).CombinedOutput()
	if err != nil {
		return &CheckError{Output: string(out), Err: err}
	}
	return nil
}

// Apply writes cfg beside the live file, checks it with haproxy -c, and only
// if it passes renames it over the live file and reloads HAProxy. It reports
// whether the live file changed; an unchanged configuration is not reloaded.
func (a Applier) Apply(ctx context.Context, cfg []byte) (changed bool, err error) {
	if old, err := os.ReadFile(a.Config); err == nil && bytes.Equal(old, cfg) {
		return false, nil
	}
	dir := filepath.Dir(a.Config)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("create %s: %w", dir, err)
	}
	cand := filepath.Join(dir, "."+filepath.Base(a.Config)+".new")
	if err := writeAtomic(cand, cfg, 0o644); err != nil {
		return false, err
	}
	defer os.Remove(cand)
	if err := a.Check(ctx, cand); err != nil {
		return false, err
	}
	if err := os.Rename(cand, a.Config); err != nil {
		return false, fmt.Errorf("install %s: %w", a.Config, err)
	}
	if a.Reload == "" {
		return true, nil
	}
	if out, err := exec.CommandContext(ctx, "sh", "-c", a.Reload).CombinedOutput(); err != nil {
		return true, &ReloadError{Output: string(out), Err: err}
	}
	return true, nil
}
