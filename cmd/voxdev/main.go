// Command voxdev runs the whole Vox platform on this machine for development
// (`make dev`), reports each part's health (`make dev-status`) and places a
// test call through it (`make dev-call`). See package devstack.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/voxplatform/vox/devstack"
)

const usage = `voxdev — the whole platform on this machine, for development

usage:
  voxdev [up] [--dir D] [--port-base P] [--workers N]   start everything; Ctrl-C stops it all
  voxdev status [--dir D] [--json]                      health of every part (exit 1 if one is down)
  voxdev call [--dir D]                                 place a test call through the fleet's nginx
  voxdev help

Ports are P (Console + API) to P+59 on 127.0.0.1; P is 7700 by default.
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "up"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	root, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(stderr, "voxdev:", err)
		return 1
	}
	fs := flag.NewFlagSet("voxdev "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), usage) }
	dir := fs.String("dir", filepath.Join(root, ".dev"), "the stack's directory (secrets, data, logs)")
	switch cmd {
	case "up":
		base := fs.Int("port-base", devstack.DefaultPortBase, "first of 60 loopback ports")
		workers := fs.Int("workers", 4, "fleet workers")
		if fs.Parse(args) != nil {
			return 2
		}
		return up(devstack.Config{Root: root, Dir: *dir, PortBase: *base, Workers: *workers}, stdout, stderr)
	case "status":
		asJSON := fs.Bool("json", false, "print JSON")
		if fs.Parse(args) != nil {
			return 2
		}
		return status(*dir, *asJSON, stdout, stderr)
	case "call":
		if fs.Parse(args) != nil {
			return 2
		}
		return call(root, *dir, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "voxdev: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

// up runs the stack until SIGINT, SIGTERM or SIGHUP (the terminal closed).
// voxdev's children are in their own process groups, so the first Ctrl-C
// reaches only voxdev, which stops them in order, letting a call in
// progress finish; a second one kills every process the stack started at
// once.
func up(cfg devstack.Config, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	force := make(chan struct{})
	cfg.Force = force
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		<-sig
		cancel()
		<-sig
		fmt.Fprintln(stderr, "voxdev: second signal: killing every part now")
		close(force)
	}()
	fmt.Fprintf(stdout, "Starting the platform (stack in %s)…\n", cfg.Dir)
	if err := devstack.Up(ctx, cfg, stdout); err != nil {
		fmt.Fprintln(stderr, "voxdev:", err)
		return 1
	}
	fmt.Fprintln(stdout, "stopped; nothing left running")
	return 0
}

func status(dir string, asJSON bool, stdout, stderr io.Writer) int {
	parts, err := devstack.Status(context.Background(), dir)
	if errors.Is(err, devstack.ErrNotRunning) {
		fmt.Fprintln(stderr, "voxdev:", err)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "voxdev:", err)
		return 1
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(parts)
	} else {
		devstack.PrintStatus(stdout, parts)
	}
	for _, p := range parts {
		if !p.OK {
			return 1
		}
	}
	return 0
}

// call runs `voxfleet call` against the fleet site of the running stack,
// with a service token scoped to the development fleet and the development
// organisation's test agent (made through the Backend's API on first use),
// then waits until the call's record has reached the Backend and prints it.
func call(root, dir string, stdout, stderr io.Writer) int {
	url, secret, err := devstack.CallTarget(dir)
	if errors.Is(err, devstack.ErrNotRunning) {
		fmt.Fprintln(stderr, "voxdev:", err)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "voxdev:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	be, err := devstack.Login(ctx, dir)
	if err != nil {
		fmt.Fprintln(stderr, "voxdev: the Backend:", err)
		return 1
	}
	agentID, err := be.DevAgent(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "voxdev: the Backend:", err)
		return 1
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(root, "bin", "voxfleet"), "call", "--url", url,
		"--fleet-id", devstack.DevFleetID, "--agent-id", agentID, "--json")
	cmd.Env = append(os.Environ(), "VOX_SERVICE_SECRET="+secret)
	cmd.Stdout, cmd.Stderr = &out, stderr
	runErr := cmd.Run()
	var rep struct {
		CallSID    string  `json:"call_sid"`
		SetupMS    float64 `json:"setup_ms"`
		GreetingMS int     `json:"greeting_ms"`
		EchoMS     int     `json:"echo_ms"`
		Ended      bool    `json:"ended"`
		OK         bool    `json:"ok"`
		Problem    string  `json:"problem"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		fmt.Fprintf(stderr, "voxdev: voxfleet call: %v %v\n%s", runErr, err, out.String())
		return 1
	}
	fmt.Fprintf(stdout, "test call %s via %s (agent %q, %s)\n", rep.CallSID, url, devstack.DevAgentName, agentID)
	fmt.Fprintf(stdout, "  answered in %.1f ms; greeting heard: %d ms of audio; echo heard: %d ms; ended by '#': %v\n",
		rep.SetupMS, rep.GreetingMS, rep.EchoMS, rep.Ended)
	if !rep.OK {
		fmt.Fprintf(stdout, "  PROBLEM: %s\n", rep.Problem)
		return 1
	}
	rec, err := be.WaitCall(ctx, rep.CallSID, true)
	if err != nil {
		fmt.Fprintln(stderr, "voxdev: the Backend:", err)
		return 1
	}
	talk := 0.0
	if rec.TalkSeconds != nil {
		talk = *rec.TalkSeconds
	}
	fmt.Fprintf(stdout, "  in the Backend: %s (%s), talk %.1f s, fleet %s, recording %s\n",
		rec.Status, rec.EndCause, talk, rec.FleetURL, rec.RecordingKey)
	if u, err := devstack.ConsoleURL(dir); err == nil {
		fmt.Fprintf(stdout, "  in the Console: %s/calls/%s\n", u, rec.CallID)
	}
	return 0
}
