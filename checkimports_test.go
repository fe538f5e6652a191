package vox

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureModule writes a small module whose files are given by path.
func fixtureModule(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files["go.mod"] = "module example.com/fx\n\ngo 1.22\n"
	for path, src := range files {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, path), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// checkImports runs scripts/check-imports.sh in dir.
func checkImports(t *testing.T, dir string) (string, bool) {
	t.Helper()
	script, err := filepath.Abs("scripts/check-imports.sh")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// TestCheckImportsMatchesPrefixes: a boundary on a package covers every
// package under it. callslot importing api/store (not api itself) must be
// caught; a script matching whole package paths only let it through.
func TestCheckImportsMatchesPrefixes(t *testing.T) {
	dir := fixtureModule(t, map[string]string{
		"api/store/store.go": "package store\n\nconst X = 1\n",
		"api/api.go":         "package api\n",
		"callslot/slot.go":   "package callslot\n\nimport \"example.com/fx/api/store\"\n\nvar _ = store.X\n",
	})
	out, ok := checkImports(t, dir)
	if ok || !strings.Contains(out, "callslot must not import api (example.com/fx/api/store)") {
		t.Fatalf("check-imports passed or said something else:\n%s", out)
	}
	// A package whose name merely starts like a forbidden one is not caught.
	dir = fixtureModule(t, map[string]string{
		"apiclient/c.go":   "package apiclient\n\nconst X = 1\n",
		"callslot/slot.go": "package callslot\n\nimport \"example.com/fx/apiclient\"\n\nvar _ = apiclient.X\n",
	})
	if out, ok := checkImports(t, dir); !ok {
		t.Fatalf("check-imports refused callslot → apiclient:\n%s", out)
	}
}

// TestCheckImportsPassesHere: this repository keeps its boundaries.
func TestCheckImportsPassesHere(t *testing.T) {
	if out, ok := checkImports(t, "."); !ok {
		t.Fatalf("check-imports:\n%s", out)
	}
}
