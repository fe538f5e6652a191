package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// flagsOf lists the flags a command defines, read from its -h output.
func flagsOf(t *testing.T, cmd string) []string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := dispatch([]string{cmd, "-h"}, &out, &errOut); code != exitOK {
		t.Fatalf("%s -h: exit %d: %s", cmd, code, errOut.String())
	}
	var flags []string
	for _, m := range regexp.MustCompile(`(?m)^  -(\S+)`).FindAllStringSubmatch(errOut.String(), -1) {
		flags = append(flags, "--"+m[1])
	}
	slices.Sort(flags)
	return flags
}

// TestCompletionMatchesFlags keeps the completion word lists in step with
// the flags each command really defines.
func TestCompletionMatchesFlags(t *testing.T) {
	for _, cmd := range strings.Fields(commandList) {
		if cmd == "completion" || cmd == "version" {
			continue
		}
		want := flagsOf(t, cmd)
		got := strings.Fields(completionWords[cmd])
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("completion of %s offers %v; the command defines %v", cmd, got, want)
		}
		if !strings.Contains(usage, "\n  "+cmd) {
			t.Errorf("usage text lacks %s", cmd)
		}
	}
}

// TestBashCompletion sources the bash script and asks it for completions.
func TestBashCompletion(t *testing.T) {
	var script, errOut bytes.Buffer
	if code := dispatch([]string{"completion", "bash"}, &script, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	file := filepath.Join(t.TempDir(), "voxfleet.bash")
	if err := os.WriteFile(file, script.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	complete := func(words ...string) []string {
		sh := `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _voxfleet; printf '%s\n' "${COMPREPLY[@]}"`
		out, err := exec.Command("bash", append([]string{"-c", sh, "bash", file}, words...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, out)
		}
		return strings.Fields(string(out))
	}
	if got := complete("voxfleet", "st"); !slices.Equal(got, []string{"status"}) {
		t.Errorf("voxfleet st<TAB> = %v", got)
	}
	if got := complete("voxfleet", "scale", "--n"); !slices.Equal(got, []string{"--no-wait"}) {
		t.Errorf("voxfleet scale --n<TAB> = %v", got)
	}
	var zsh bytes.Buffer
	dispatch([]string{"completion", "zsh"}, &zsh, &errOut)
	if !strings.HasPrefix(zsh.String(), "#compdef voxfleet") || !strings.Contains(zsh.String(), "--no-wait") {
		t.Errorf("zsh script:\n%s", zsh.String())
	}
	if zshBin, err := exec.LookPath("zsh"); err == nil {
		if out, err := exec.Command(zshBin, "-n", "-c", zsh.String()).CombinedOutput(); err != nil {
			t.Errorf("zsh -n: %v\n%s", err, out)
		}
	}
}
