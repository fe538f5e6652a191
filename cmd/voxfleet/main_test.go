package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestDispatchUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, exitUsage, "usage: voxfleet"},
		{"unknown command", []string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{"help", []string{"help"}, exitOK, "scale N"},
		{"version", []string{"version"}, exitOK, "voxfleet "},
		{"scale without N", []string{"scale"}, exitUsage, "usage: voxfleet scale N"},
		{"scale not a number", []string{"scale", "many"}, exitUsage, `got "many"`},
		{"scale negative", []string{"scale", "-3"}, exitUsage, ""},
		{"scale too many", []string{"scale", "5000"}, exitUsage, "from 0 to 1024"},
		{"drain bad index", []string{"drain", "0"}, exitUsage, "worker index"},
		{"restart bad index", []string{"restart", "x"}, exitUsage, `got "x"`},
		{"status extra argument", []string{"status", "now"}, exitUsage, "takes no arguments"},
		{"unknown flag", []string{"status", "--bogus"}, exitUsage, "flag provided but not defined"},
		{"status without daemon", []string{"status", "--socket-dir", "/nonexistent/vox"}, exitFail, "not running or not reachable"},
		{"scale without daemon", []string{"scale", "3", "--socket-dir", "/nonexistent/vox"}, exitFail, "not running or not reachable"},
		{"worker without index", []string{"worker", "--socket", "/tmp/x.sock"}, exitUsage, "--index"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := dispatch(tt.args, &out, &errOut)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out.String(), errOut.String())
			}
			if both := out.String() + errOut.String(); !strings.Contains(both, tt.want) {
				t.Fatalf("output does not mention %q:\n%s", tt.want, both)
			}
		})
	}
}

func TestRunNamesEveryBadSetting(t *testing.T) {
	t.Setenv("VOX_SERVICE_SECRET", "short")
	t.Setenv("VOXFLEET_WORKERS", "lots")
	t.Setenv("VOXFLEET_STOP_TIMEOUT", "forever")
	t.Setenv("VOXFLEET_FLEET_ID", "not a fleet id")
	var out, errOut bytes.Buffer
	code := dispatch([]string{"run", "--socket-dir", "relative/dir", "--listen", "nowhere",
		"--nginx-reload", "nginx -s reload", "--log-level", "loud"}, &out, &errOut)
	if code != exitUsage {
		t.Fatalf("exit %d, want %d: %s", code, exitUsage, errOut.String())
	}
	for _, name := range []string{"$VOXFLEET_WORKERS", "$VOXFLEET_STOP_TIMEOUT", "$VOX_SERVICE_SECRET",
		"$VOXFLEET_FLEET_ID", "--socket-dir", "--listen", "--nginx-test", "--log-level"} {
		if !strings.Contains(errOut.String(), name) {
			t.Errorf("message does not name %s:\n%s", name, errOut.String())
		}
	}
}
