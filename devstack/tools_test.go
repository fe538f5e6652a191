package devstack

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMissingToolsNamed checks that a machine without the stack's programs
// gets one message naming every missing one with how to get it, and that
// nothing starts.
func TestMissingToolsNamed(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("PATH", empty)
	t.Setenv("GOPATH", empty)
	root := t.TempDir()
	bin := t.TempDir()

	tests := []struct {
		name    string
		built   []string // binaries present in BinDir
		want    []string // in the message
		notWant []string
	}{
		{
			name: "bare machine",
			want: []string{"redis-server not found: run apt-get install redis-server", "vox-ferretdb not found: run scripts/deps-ferretdb.sh",
				"minio not found: run scripts/deps-minio.sh", "voxbridge is not built: run make build", "voxfleet is not built: run make build", "make dev-deps"},
			notWant: []string{"livekit-server", "voxdialler"}, // optional: their parts are left out
		},
		{
			name:    "binaries built",
			built:   []string{"voxbridge", "voxfleet"},
			want:    []string{"redis-server", "vox-ferretdb", "minio"},
			notWant: []string{"voxbridge", "voxfleet"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, b := range tt.built {
				if err := os.WriteFile(filepath.Join(bin, b), []byte("#!/bin/sh\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			dir := t.TempDir()
			var out bytes.Buffer
			err := Up(context.Background(), Config{Root: root, BinDir: bin, Dir: dir}, &out)
			if err == nil {
				t.Fatal("the stack started without its programs")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message lacks %q:\n%v", w, err)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(err.Error(), w) {
					t.Errorf("message names %q:\n%v", w, err)
				}
			}
			if logs, _ := os.ReadDir(filepath.Join(dir, "logs")); len(logs) > 0 {
				t.Errorf("a part was started: %v", logs)
			}
		})
	}
}

// TestPortTakenNamed checks that a port of the stack held by another
// program is named with the way out, before anything starts.
func TestPortTakenNamed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// The held port becomes the stack's Redis port.
	cfg := Config{PortBase: l.Addr().(*net.TCPAddr).Port - offRedis}
	err = cfg.portsFree()
	if err == nil || !strings.Contains(err.Error(), l.Addr().String()+" (Redis)") || !strings.Contains(err.Error(), "--port-base") {
		t.Errorf("portsFree: %v", err)
	}
}
