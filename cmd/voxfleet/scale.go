package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"time"

	"github.com/voxplatform/vox/control"
	"github.com/voxplatform/vox/fleetapi"
)

// runScale sets the desired worker count and, unless --no-wait, follows the
// fleet until that many workers serve. Scaling to 0 while calls are in
// progress needs --yes: the host then takes no new call.
func runScale(args []string, stdout, stderr io.Writer) int {
	c := newCLI("scale", stderr)
	var yes, noWait bool
	var timeout time.Duration
	c.fs.BoolVar(&yes, "yes", false, "confirm scaling to 0 while calls are in progress")
	c.fs.BoolVar(&yes, "force", false, "same as --yes")
	c.fs.BoolVar(&noWait, "no-wait", false, "return once the new count is recorded, without waiting for the workers")
	wait := c.fs.Bool("wait", true, "wait until the new count of workers serves (the default; see --no-wait)")
	c.fs.DurationVar(&timeout, "timeout", time.Minute, "how long to wait for the new count")
	pos, code := c.parseArgs(args, stderr)
	if code >= 0 {
		return code
	}
	if len(pos) != 1 {
		return usageErr(stderr, c.fs, "usage: voxfleet scale N")
	}
	n, err := strconv.Atoi(pos[0])
	if err != nil || n < 0 || n > control.MaxWorkers {
		return usageErr(stderr, c.fs, fmt.Sprintf("N must be a whole number from 0 to %d, got %q", control.MaxWorkers, pos[0]))
	}
	if noWait {
		*wait = false
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cl := control.NewClient(c.socketDir)
	if n == 0 && !yes {
		qctx, cancel := context.WithTimeout(ctx, control.DefaultTimeout)
		f, err := cl.Status(qctx)
		cancel()
		if err != nil {
			return fail(stderr, "scale", err)
		}
		if f.Busy > 0 {
			fmt.Fprintf(stderr, "voxfleet scale: %d call(s) in progress. 'scale 0' takes every worker out of nginx now: "+
				"the calls finish, then no worker is left and this host takes no call until 'voxfleet scale N'.\n"+
				"Run 'voxfleet scale 0 --yes' to do it.\n", f.Busy)
			return exitUsage
		}
	}
	qctx, cancel := context.WithTimeout(ctx, control.DefaultTimeout)
	r, err := cl.Scale(qctx, n)
	cancel()
	if err != nil {
		return fail(stderr, "scale", err)
	}
	enc := json.NewEncoder(stdout)
	if c.json {
		_ = enc.Encode(r)
	} else {
		fmt.Fprintf(stdout, "desired workers: %d -> %d (busy workers finish their calls first)\n", r.Previous, r.Desired)
	}
	if !*wait {
		return exitOK
	}
	return waitScaled(ctx, cl, n, timeout, func(line string) {
		if !c.json {
			fmt.Fprintln(stdout, line)
		}
	}, stderr)
}

// waitScaled polls the daemon until n workers serve (ready or in a call)
// and none is still starting, or until a worker fails to start (failed or
// backing off after quick deaths); it reports each change through say.
func waitScaled(ctx context.Context, cl *control.Client, n int, timeout time.Duration, say func(string), stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := ""
	for {
		f, err := cl.Status(ctx)
		if err == nil {
			s := scaleProgress(f)
			line := fmt.Sprintf("serving %d of %d", s.serving, n)
			if s.starting > 0 {
				line += fmt.Sprintf(", %d starting", s.starting)
			}
			if s.leaving > 0 {
				line += fmt.Sprintf(", %d leaving after their call", s.leaving)
			}
			if line != last {
				say(line)
				last = line
			}
			switch {
			case s.failed > 0:
				fmt.Fprintf(stderr, "voxfleet scale: %d worker(s) failed to start (failed or backing off); see 'voxfleet status'\n", s.failed)
				return exitFail
			case s.serving == n && s.starting == 0:
				return exitOK
			}
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			fmt.Fprintf(stderr, "voxfleet scale: the new count is recorded, but %d workers did not serve within %s (%v); see 'voxfleet status'\n",
				n, timeout, err)
			return exitFail
		case <-time.After(100 * time.Millisecond):
		}
	}
}

type scaleCounts struct{ serving, starting, leaving, failed int }

// scaleProgress counts the workers that serve, start, leave or failed.
func scaleProgress(f fleetapi.Fleet) scaleCounts {
	var s scaleCounts
	for _, w := range f.Workers {
		switch {
		case w.Retired:
		case w.State == fleetapi.SlotDraining && w.Reason == control.ReasonScaledDown:
			s.leaving++
		case w.State == fleetapi.SlotReady || w.State == fleetapi.SlotBusy:
			s.serving++
		case w.State == fleetapi.SlotStarting:
			s.starting++
		case w.State == fleetapi.SlotFailed || w.State == fleetapi.SlotBackoff:
			s.failed++
		}
	}
	return s
}
