// Command voxfleet runs a fleet host's call workers and controls them.
//
//	voxfleet run                  the daemon (under systemd: voxfleet.service)
//	voxfleet status [--json] [--watch]  every worker and what it is doing
//	voxfleet scale N [--yes] [--no-wait] resize the host and wait for the new count
//	voxfleet restart [--rolling] [I…]   replace workers without cutting a call
//	voxfleet drain I…             take workers out of service after their calls
//	voxfleet upgrade [--force]    re-exec from the binary on disk, then roll the workers, canary first
//	voxfleet call [--carrier NAME]  place a test call (twilio, exotel, plivo, telnyx, vonage) and report what was heard
//	voxfleet worker …             one call slot (started by the daemon)
//	voxfleet completion bash|zsh  shell completion script
//	voxfleet version (--version, -v)
//
// Exit codes: 0 ok, 1 failed, 2 usage.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/voxplatform/vox/version"
)

// Exit codes of every subcommand.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: voxfleet <command> [flags]

commands:
  run                         run the fleet daemon
  status [--json] [--watch]   show every worker
  scale N [--yes] [--no-wait] set the number of workers and wait until they serve
  restart [--rolling] [I...]  replace workers (all when none named) without cutting calls
  drain I...                  take workers out of service once their calls end
  upgrade [--force]           re-execute the daemon from the binary on disk, then roll the workers onto it
  call [--carrier NAME]       place a test call on a free worker, in a carrier's protocol (default twilio)
  worker                      run one call slot (started by the daemon)
  completion bash|zsh         print a shell completion script
  version                     print the version (also --version, -v)

Run 'voxfleet <command> -h' for a command's flags.
`

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return runDaemon(rest, stdout, stderr)
	case "worker":
		return runWorker(rest, stderr)
	case "status":
		return runStatus(rest, stdout, stderr)
	case "scale":
		return runScale(rest, stdout, stderr)
	case "restart":
		return runRestart(rest, stdout, stderr)
	case "drain":
		return runDrain(rest, stdout, stderr)
	case "call":
		return runCall(rest, stdout, stderr)
	case "upgrade":
		return runUpgrade(rest, stdout, stderr)
	case "completion":
		return runCompletion(rest, stdout, stderr)
	case "version", "--version", "-version", "-v":
		fmt.Fprintln(stdout, "voxfleet", version.Version)
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "voxfleet: unknown command %q\n\n%s", cmd, usage)
	return exitUsage
}
