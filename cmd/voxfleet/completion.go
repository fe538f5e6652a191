package main

import (
	"fmt"
	"io"
)

// commands and their flags, for shell completion. A test checks that every
// flag listed here exists and that every command of the usage text is here.
var completionWords = map[string]string{
	"run":        "--workers --max-workers --socket-dir --state-file --listen --upstream-file --nginx-test --nginx-reload --socket-group --stop-timeout --ready-timeout --max-call-duration --stop-mode --recycle-after-calls --recycle-above-rss --call-stall-after --call-stall-end --canary-period --worker-binary --log-level --log-format --worker-log-level --hint",
	"status":     "--socket-dir --json --watch --interval",
	"scale":      "--socket-dir --json --yes --force --wait --no-wait --timeout",
	"restart":    "--socket-dir --json --rolling",
	"drain":      "--socket-dir --json",
	"upgrade":    "--socket-dir --json --timeout --force",
	"call":       "--socket-dir --json --url --socket --ca --speak --timeout",
	"completion": "bash zsh",
	"version":    "",
}

const commandList = "run status scale restart drain upgrade call completion version"

const bashCompletion = `# bash completion for voxfleet; install with:
#   voxfleet completion bash > /etc/bash_completion.d/voxfleet
_voxfleet() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "%[1]s" -- "$cur"))
        return
    fi
    local words
    case "${COMP_WORDS[1]}" in
%[2]s    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _voxfleet voxfleet
`

const zshCompletion = `#compdef voxfleet
# zsh completion for voxfleet; install with:
#   voxfleet completion zsh > "${fpath[1]}/_voxfleet"
_voxfleet() {
    if (( CURRENT == 2 )); then
        compadd -- %[1]s
        return
    fi
    case "$words[2]" in
%[2]s    esac
}
compdef _voxfleet voxfleet
`

// runCompletion prints the completion script of a shell.
func runCompletion(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: voxfleet completion bash|zsh")
		return exitUsage
	}
	var cases string
	for _, cmd := range []string{"run", "status", "scale", "restart", "drain", "upgrade", "call", "completion"} {
		switch args[0] {
		case "bash":
			cases += fmt.Sprintf("        %s) words=%q ;;\n", cmd, completionWords[cmd])
		case "zsh":
			cases += fmt.Sprintf("        %s) compadd -- %s ;;\n", cmd, completionWords[cmd])
		}
	}
	switch args[0] {
	case "bash":
		fmt.Fprintf(stdout, bashCompletion, commandList, cases)
	case "zsh":
		fmt.Fprintf(stdout, zshCompletion, commandList, cases)
	default:
		fmt.Fprintf(stderr, "voxfleet completion: unknown shell %q: want bash or zsh\n", args[0])
		return exitUsage
	}
	return exitOK
}
