package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestRunWithoutStack checks voxdev's answers when no stack runs and on
// bad usage: a message naming the problem and exit 2, never a panic.
func TestRunWithoutStack(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		code int
		want string // in stderr, or stdout for help
	}{
		{[]string{"status", "--dir", dir}, 2, "no stack is running (start one with make dev)"},
		{[]string{"status", "--dir", dir, "--json"}, 2, "no stack is running"},
		{[]string{"call", "--dir", dir}, 2, "no stack is running"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"status", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"up", "--port-base", "80", "--dir", dir}, 1, "port base 80: must leave 60 ports between 1024 and 65535"},
		{[]string{"help"}, 0, "voxdev status [--dir D] [--json]"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			if code != tt.code || !strings.Contains(stdout.String()+stderr.String(), tt.want) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", code, tt.code, stdout.String(), stderr.String(), tt.want)
			}
		})
	}
}
