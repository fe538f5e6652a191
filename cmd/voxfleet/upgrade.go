package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"time"

	"github.com/voxplatform/vox/control"
	"github.com/voxplatform/vox/fleetapi"
)

// comeBackTimeout bounds the wait for the re-executed daemon to answer.
const comeBackTimeout = time.Minute

// runUpgrade asks the daemon to re-execute itself from the binary now on
// disk and follows the workers' roll onto it until it ends.
func runUpgrade(args []string, stdout, stderr io.Writer) int {
	c := newCLI("upgrade", stderr)
	var timeout time.Duration
	var force bool
	c.fs.DurationVar(&timeout, "timeout", 30*time.Minute, "give up following the roll after this long (it goes on)")
	c.fs.BoolVar(&force, "force", false, "upgrade even when the binary on disk is the version already running")
	pos, code := c.parseArgs(args, stderr)
	if code >= 0 {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, c.fs, "takes no arguments: put the new binary in place, then run it")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cl := control.NewClient(c.socketDir)
	enc := json.NewEncoder(stdout)
	say := func(p control.Progress) {
		if c.json {
			_ = enc.Encode(p)
		} else {
			fmt.Fprintf(stdout, "%-9s %s\n", p.Step, p.Message)
		}
	}

	before, err := cl.Status(ctx)
	if err != nil {
		return fail(stderr, "upgrade", err)
	}
	if !force && before.Binary != "" {
		// The daemon checks the binary too; asking here first lets a no-op
		// upgrade be refused before anything is re-executed.
		if v, err := binaryVersion(ctx, before.Binary); err == nil && v == before.Version {
			fmt.Fprintf(stderr, "voxfleet upgrade: the daemon already runs %s, and %s is %s too: nothing to upgrade.\n"+
				"Put the new release at %s first, or pass --force to re-execute and replace every worker anyway.\n",
				before.Version, before.Binary, v, before.Binary)
			return exitUsage
		}
	}
	var to string
	reexec := false
	err = cl.Upgrade(ctx, func(p control.Progress) {
		if p.Version != "" {
			to = p.Version
		}
		reexec = reexec || p.Step == "reexec"
		say(p)
	})
	if err != nil && !reexec {
		return fail(stderr, "upgrade", err)
	}

	// The daemon is re-executing: wait for it to answer as the new version,
	// then follow the roll. If the new image hands back to the previous
	// release, the daemon answers as that release with the reason.
	var f fleetapi.Fleet
	back := time.Now().Add(comeBackTimeout)
	for {
		f, err = cl.Status(ctx)
		if err == nil && f.Version == to && f.Rollout != nil && f.Rollout.Kind == "upgrade" && f.Rollout.Version == to {
			break
		}
		if err == nil && f.Version != to && f.Rollout != nil && f.Rollout.Kind == "upgrade" && f.Rollout.Version == to &&
			f.Rollout.Done && f.Rollout.Error != "" {
			say(control.Progress{Step: "done", Done: true, Error: f.Rollout.Error, Message: "upgrade abandoned; " + f.Version + " keeps serving"})
			if !c.json {
				fmt.Fprintf(stderr, "voxfleet upgrade: %s; %s keeps serving\n", f.Rollout.Error, f.Version)
			}
			return exitFail
		}
		if ctx.Err() != nil || time.Now().After(back) {
			return fail(stderr, "upgrade", fmt.Errorf("daemon did not come back as %s within %s: %v (see journalctl -u voxfleet)",
				to, comeBackTimeout, err))
		}
		time.Sleep(100 * time.Millisecond)
	}
	same := "same pid"
	if f.DaemonPID != before.DaemonPID {
		same = fmt.Sprintf("pid changed from %d", before.DaemonPID)
	}
	say(control.Progress{Step: "daemon", Message: fmt.Sprintf("running %s as pid %d (%s)", f.Version, f.DaemonPID, same)})
	last := ""
	for {
		r := f.Rollout
		line := fmt.Sprintf("%d of %d worker(s) on %s", r.Replaced, r.Total, to)
		if r.Message != "" {
			line += "; " + r.Message
		}
		if line != last {
			say(control.Progress{Step: "roll", Message: line})
			last = line
		}
		if r.Done {
			if r.Error != "" {
				say(control.Progress{Step: "done", Done: true, Error: r.Error, Message: "upgrade stopped"})
				if !c.json {
					fmt.Fprintf(stderr, "voxfleet upgrade: %s\n", r.Error)
				}
				return exitFail
			}
			say(control.Progress{Step: "done", Done: true, Message: fmt.Sprintf("every worker runs %s", to)})
			return exitOK
		}
		time.Sleep(200 * time.Millisecond)
		if f, err = cl.Status(ctx); err != nil {
			return fail(stderr, "upgrade", err)
		}
		if f.Rollout == nil {
			return fail(stderr, "upgrade", fmt.Errorf("the roll is no longer reported"))
		}
	}
}

// binaryVersion runs `BINARY version` and returns the version it prints.
func binaryVersion(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "version").Output()
	if err != nil {
		return "", fmt.Errorf("%s version: %w", path, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || f[0] != "voxfleet" {
		return "", fmt.Errorf("%s version: unexpected answer %q", path, strings.TrimSpace(string(out)))
	}
	return f[1], nil
}
