package testmongo

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// BinaryName is the file name of the built server under the cache directory.
const BinaryName = "vox-ferretdb"

// Binary returns the path of the FerretDB test program, building it first
// when it is missing or older than its sources. Concurrent callers (parallel
// test binaries) serialise on a lock file.
func Binary() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	src := filepath.Join(root, "internal", "testmongo", "ferretdb")
	cache := filepath.Join(root, ".cache")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", cache, err)
	}
	bin := filepath.Join(cache, BinaryName)
	lock, err := os.OpenFile(bin+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("open lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck
	if fresh(bin, src) {
		return bin, nil
	}
	tmp := bin + ".tmp"
	cmd := exec.Command("go", "build", "-o", tmp, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", src, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("install %s: %w", bin, err)
	}
	return bin, nil
}

// fresh reports whether bin exists and is newer than every source file.
func fresh(bin, src string) bool {
	bi, err := os.Stat(bin)
	if err != nil {
		return false
	}
	for _, f := range []string{"main.go", "go.mod", "go.sum"} {
		si, err := os.Stat(filepath.Join(src, f))
		if err != nil || si.ModTime().After(bi.ModTime()) {
			return false
		}
	}
	return true
}

// repoRoot finds the directory of the project's go.mod from the working
// directory (a test runs in its package's directory).
func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the project's module")
	}
	return filepath.Dir(gomod), nil
}
