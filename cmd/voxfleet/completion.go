package main

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// flagged are the commands whose flags are completed.
var flagged = []string{"run", "status", "scale", "restart", "drain", "upgrade", "call"}

var flagLine = regexp.MustCompile(`(?m)^  -(\S+)`)

// commandFlags lists cmd's flags as --name, read from its own -h output, so
// that completion never drifts from the flags a command really defines.
func commandFlags(cmd string) []string {
	var out, help bytes.Buffer
	dispatch([]string{cmd, "-h"}, &out, &help)
	var flags []string
	for _, m := range flagLine.FindAllStringSubmatch(help.String(), -1) {
		flags = append(flags, "--"+m[1])
	}
	return flags
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
	words := map[string]string{"completion": "bash zsh"}
	for _, cmd := range flagged {
		words[cmd] = strings.Join(commandFlags(cmd), " ")
	}
	var cases string
	for _, cmd := range append(slices.Clone(flagged), "completion") {
		switch args[0] {
		case "bash":
			cases += fmt.Sprintf("        %s) words=%q ;;\n", cmd, words[cmd])
		case "zsh":
			cases += fmt.Sprintf("        %s) compadd -- %s ;;\n", cmd, words[cmd])
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
