package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCompletionOffersEveryCommand: the usage text and the completion
// scripts name the same commands, and each command's flags are found.
func TestCompletionOffersEveryCommand(t *testing.T) {
	for _, cmd := range strings.Fields(commandList) {
		if !strings.Contains(usage, "\n  "+cmd) {
			t.Errorf("usage text lacks %s", cmd)
		}
	}
	for _, cmd := range flagged {
		if !strings.Contains(commandList, cmd) {
			t.Errorf("%s is completed but not in the command list", cmd)
		}
		if flags := commandFlags(cmd); !slices.Contains(flags, "--socket-dir") {
			t.Errorf("flags of %s: %v; want --socket-dir among them", cmd, flags)
		}
	}
	if got := commandFlags("scale"); !slices.Contains(got, "--no-wait") || !slices.Contains(got, "--yes") {
		t.Errorf("flags of scale: %v", got)
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
