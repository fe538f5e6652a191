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
	"time"

	"github.com/voxplatform/vox/control"
	"github.com/voxplatform/vox/fleetapi"
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
	var re *fleetapi.Error
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
	var watch bool
	var every time.Duration
	c.fs.BoolVar(&watch, "watch", false, "redraw every --interval until Ctrl-C")
	c.fs.DurationVar(&every, "interval", time.Second, "how often --watch redraws")
	pos, code := c.parseArgs(args, stderr)
	if code >= 0 {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, c.fs, "takes no arguments")
	}
	if watch && every <= 0 {
		return usageErr(stderr, c.fs, "--interval must be positive")
	}
	cl := control.NewClient(c.socketDir)
	show := func(ctx context.Context) int {
		ctx, cancel := context.WithTimeout(ctx, control.DefaultTimeout)
		defer cancel()
		f, err := cl.Status(ctx)
		if err != nil {
			return fail(stderr, "status", err)
		}
		if c.json {
			enc := json.NewEncoder(stdout)
			if !watch {
				enc.SetIndent("", "  ")
			}
			_ = enc.Encode(f)
		} else {
			_ = control.WriteTable(stdout, f)
		}
		if f.Status == fleetapi.FleetDown {
			return exitFail
		}
		return exitOK
	}
	if !watch {
		return show(context.Background())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	clear := !c.json && isTerminal(stdout)
	for {
		if clear {
			fmt.Fprint(stdout, "\033[H\033[2J")
		}
		if !c.json {
			fmt.Fprintf(stdout, "%s  (every %s, Ctrl-C to stop)\n", time.Now().Format(time.TimeOnly), every)
		}
		show(ctx)
		if !clear && !c.json {
			fmt.Fprintln(stdout)
		}
		select {
		case <-ctx.Done():
			return exitOK
		case <-time.After(every):
		}
	}
}

func runDrain(args []string, stdout, stderr io.Writer) int {
	c := newCLI("drain", stderr)
	pos, code := c.parseArgs(args, stderr)
	if code >= 0 {
		return code
	}
	if len(pos) == 0 {
		return usageErr(stderr, c.fs, "usage: voxfleet drain INDEX...")
	}
	idx, msg := parseIndices(pos)
	if msg != "" {
		return usageErr(stderr, c.fs, msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), control.DefaultTimeout)
	defer cancel()
	if err := control.NewClient(c.socketDir).Drain(ctx, idx...); err != nil {
		return fail(stderr, "drain", err)
	}
	if c.json {
		_ = json.NewEncoder(stdout).Encode(map[string][]int{"drained": idx})
		return exitOK
	}
	for _, i := range idx {
		fmt.Fprintf(stdout, "worker %d drains: no new calls; it stops after its call. 'voxfleet restart %d' brings it back.\n", i, i)
	}
	return exitOK
}

// parseIndices reads worker indices, or says what is wrong with them.
func parseIndices(args []string) ([]int, string) {
	var idx []int
	for _, a := range args {
		i, err := strconv.Atoi(a)
		if err != nil || i < 1 || i > control.MaxWorkers {
			return nil, fmt.Sprintf("worker indices must be whole numbers from 1 to %d, got %q", control.MaxWorkers, a)
		}
		idx = append(idx, i)
	}
	return idx, ""
}

func runRestart(args []string, stdout, stderr io.Writer) int {
	c := newCLI("restart", stderr)
	var rolling bool
	c.fs.BoolVar(&rolling, "rolling", false, "replace one worker at a time")
	pos, code := c.parseArgs(args, stderr)
	if code >= 0 {
		return code
	}
	idx, msg := parseIndices(pos)
	if msg != "" {
		return usageErr(stderr, c.fs, msg)
	}
	req := control.RestartRequest{Rolling: rolling, Indices: idx}
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
	var refused *fleetapi.Error
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
