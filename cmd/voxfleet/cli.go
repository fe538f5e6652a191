package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"

	"github.com/voxplatform/vox/control"
	"github.com/voxplatform/vox/supervisor"
)

// cliFlags are the flags every control command takes.
type cliFlags struct {
	*envFlags
	socketDir string
	json      bool
}

func newCLI(name string, stderr io.Writer) *cliFlags {
	c := &cliFlags{envFlags: newEnvFlags(name, stderr)}
	c.String(&c.socketDir, "socket-dir", supervisor.DefaultSocketDir, "the daemon's socket directory")
	c.fs.BoolVar(&c.json, "json", false, "print JSON instead of a table")
	return c
}

// parseArgs parses flags wherever they stand among the positional
// arguments and returns the positional ones, or an exit code >= 0.
func (c *cliFlags) parseArgs(args []string, stderr io.Writer) ([]string, int) {
	var pos []string
	for {
		if code := c.parse(args, stderr); code >= 0 {
			return nil, code
		}
		if c.fs.NArg() == 0 {
			return pos, -1
		}
		pos = append(pos, c.fs.Arg(0))
		args = c.fs.Args()[1:]
	}
}

// fail reports err and maps it to an exit code: a refused request is the
// caller's to fix (usage) only when the daemon said it was bad input.
func fail(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "voxfleet %s: %v\n", cmd, err)
	var re *control.RemoteError
	if errors.As(err, &re) && re.Status >= 400 && re.Status < 500 && re.Status != 409 {
		return exitUsage
	}
	return exitFail
}

func usageErr(stderr io.Writer, fs *flag.FlagSet, msg string) int {
	fmt.Fprintf(stderr, "%s: %s\n", fs.Name(), msg)
	fs.Usage()
	return exitUsage
}

func runStatus(args []string, stdout, stderr io.Writer) int {
	c := newCLI("status", stderr)
	pos, code := c.parseArgs(args, stderr)
	if code >= 0 {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, c.fs, "takes no arguments")
	}
	ctx, cancel := context.WithTimeout(context.Background(), control.DefaultTimeout)
	defer cancel()
	f, err := control.NewClient(c.socketDir).Status(ctx)
	if err != nil {
		return fail(stderr, "status", err)
	}
	if c.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(f)
	} else {
		_ = control.WriteTable(stdout, f)
	}
	if f.Status == control.StatusDown {
		return exitFail
	}
	return exitOK
}

func runScale(args []string, stdout, stderr io.Writer) int {
	c := newCLI("scale", stderr)
	pos, code := c.parseArgs(args, stderr)
	if code >= 0 {
		return code
	}
	if len(pos) != 1 {
		return usageErr(stderr, c.fs, "usage: voxfleet scale N")
	}
	n, err := strconv.Atoi(pos[0])
	if err != nil || n < 0 || n > supervisor.MaxWorkers {
		return usageErr(stderr, c.fs, fmt.Sprintf("N must be a whole number from 0 to %d, got %q", supervisor.MaxWorkers, pos[0]))
	}
	ctx, cancel := context.WithTimeout(context.Background(), control.DefaultTimeout)
	defer cancel()
	r, err := control.NewClient(c.socketDir).Scale(ctx, n)
	if err != nil {
		return fail(stderr, "scale", err)
	}
	if c.json {
		_ = json.NewEncoder(stdout).Encode(r)
	} else {
		fmt.Fprintf(stdout, "desired workers: %d -> %d (busy workers finish their calls first)\n", r.Previous, r.Desired)
	}
	return exitOK
}

func runDrain(args []string, stdout, stderr io.Writer) int {
	c := newCLI("drain", stderr)
	pos, code := c.parseArgs(args, stderr)
	if code >= 0 {
		return code
	}
	if len(pos) != 1 {
		return usageErr(stderr, c.fs, "usage: voxfleet drain INDEX")
	}
	i, err := strconv.Atoi(pos[0])
	if err != nil || i < 1 {
		return usageErr(stderr, c.fs, fmt.Sprintf("INDEX must be a worker index, got %q", pos[0]))
	}
	ctx, cancel := context.WithTimeout(context.Background(), control.DefaultTimeout)
	defer cancel()
	if err := control.NewClient(c.socketDir).Drain(ctx, i); err != nil {
		return fail(stderr, "drain", err)
	}
	if c.json {
		_ = json.NewEncoder(stdout).Encode(map[string]int{"drained": i})
	} else {
		fmt.Fprintf(stdout, "worker %d drains: no new calls; it stops after its call. 'voxfleet restart %d' brings it back.\n", i, i)
	}
	return exitOK
}

func runRestart(args []string, stdout, stderr io.Writer) int {
	c := newCLI("restart", stderr)
	var rolling bool
	c.fs.BoolVar(&rolling, "rolling", false, "replace one worker at a time")
	pos, code := c.parseArgs(args, stderr)
	if code >= 0 {
		return code
	}
	req := control.RestartRequest{Rolling: rolling}
	for _, a := range pos {
		i, err := strconv.Atoi(a)
		if err != nil || i < 1 {
			return usageErr(stderr, c.fs, fmt.Sprintf("worker indices must be whole numbers from 1, got %q", a))
		}
		req.Indices = append(req.Indices, i)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	enc := json.NewEncoder(stdout)
	accepted := false // the daemon started the restart: it sent a progress line
	err := control.NewClient(c.socketDir).Restart(ctx, req, func(p control.Progress) {
		accepted = true
		if c.json {
			_ = enc.Encode(p)
			return
		}
		fmt.Fprintf(stdout, "%-9s %s\n", p.Step, p.Message)
	})
	var refused *control.RemoteError
	if err != nil && !accepted && errors.As(err, &refused) {
		// Refused before anything was replaced (no such worker, another
		// restart or an upgrade under way, the daemon stopping): nothing
		// changed, the operator has to ask differently or later.
		fmt.Fprintf(stderr, "voxfleet restart: refused: %s\n", refused.Message)
		return exitUsage
	}
	if err != nil {
		if !c.json {
			return fail(stderr, "restart", err)
		}
		return exitFail
	}
	return exitOK
}
