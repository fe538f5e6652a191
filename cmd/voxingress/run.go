package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/voxplatform/vox/ingress"
	"github.com/voxplatform/vox/version"
)

// Exit codes of every subcommand.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

const usage = `usage: voxingress <command> [flags]

commands:
  render                  print the HAProxy configuration for the current fleets
  apply                   check the configuration with haproxy -c, install it, reload HAProxy
  add-fleet NAME URL      front one more fleet host, e.g. add-fleet eu-3 https://fleet-eu-3.example.com
  remove-fleet NAME       stop fronting a fleet host (its calls in progress carry on)
  drain NAME              send no new calls to a fleet host (its calls in progress carry on)
  undrain NAME            send new calls to a drained fleet host again
  list [--json]           the fleets, with HAProxy's live status and open calls of each
  version                 print the version

Every command takes the flags below; each has an environment variable of the
same name (VOXINGRESS_STATE = --state), and a flag wins.
Run 'voxingress <command> -h' for them.
`

// settings are the flags every command shares.
type settings struct {
	state, config, haproxy, reload string
	listen, cert, statsSocket      string
	json                           bool
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func newFlags(name string, stderr io.Writer) (*flag.FlagSet, *settings) {
	fs := flag.NewFlagSet("voxingress "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	s := &settings{}
	fs.StringVar(&s.state, "state", envOr("VOXINGRESS_STATE", "/etc/voxingress/state.json"), "fleet list (JSON) ($VOXINGRESS_STATE)")
	fs.StringVar(&s.config, "config", envOr("VOXINGRESS_CONFIG", "/etc/haproxy/haproxy.cfg"), "HAProxy configuration file written ($VOXINGRESS_CONFIG)")
	fs.StringVar(&s.haproxy, "haproxy", envOr("VOXINGRESS_HAPROXY", "haproxy"), "haproxy executable, for haproxy -c ($VOXINGRESS_HAPROXY)")
	fs.StringVar(&s.reload, "reload", envOr("VOXINGRESS_RELOAD", "systemctl reload haproxy"), "command (sh -c) that makes HAProxy load the file; empty: none ($VOXINGRESS_RELOAD)")
	fs.StringVar(&s.listen, "listen", envOr("VOXINGRESS_LISTEN", ingress.DefaultListen), "address HAProxy listens on ($VOXINGRESS_LISTEN)")
	fs.StringVar(&s.cert, "cert", envOr("VOXINGRESS_CERT", ""), "PEM file (certificate + key) for TLS; empty: plain HTTP ($VOXINGRESS_CERT)")
	fs.StringVar(&s.statsSocket, "stats-socket", envOr("VOXINGRESS_STATS_SOCKET", ingress.DefaultStatsSocket), "HAProxy admin socket; - for none ($VOXINGRESS_STATS_SOCKET)")
	if name == "list" {
		fs.BoolVar(&s.json, "json", false, "print JSON")
	}
	return fs, s
}

func (s *settings) params() ingress.Params {
	return ingress.Params{Listen: s.listen, Cert: s.cert, StatsSocket: s.statsSocket, Source: s.state}
}

func (s *settings) applier() ingress.Applier {
	return ingress.Applier{Config: s.config, HAProxy: s.haproxy, Reload: s.reload}
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "voxingress", version.Version)
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	wantArgs := map[string]int{"render": 0, "apply": 0, "list": 0, "add-fleet": 2, "remove-fleet": 1, "drain": 1, "undrain": 1}
	n, ok := wantArgs[cmd]
	if !ok {
		fmt.Fprintf(stderr, "voxingress: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
	fs, s := newFlags(cmd, stderr)
	// Flags may come before, between or after the arguments.
	var a []string
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK
			}
			return exitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		a, rest = append(a, fs.Arg(0)), fs.Args()[1:]
	}
	if len(a) != n {
		fmt.Fprintf(stderr, "voxingress %s: takes %d argument(s), got %d\n", cmd, n, len(a))
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := ingress.Load(s.state)
	if err != nil {
		fmt.Fprintf(stderr, "voxingress %s: %v\n", cmd, err)
		return exitFail
	}
	switch cmd {
	case "render":
		cfg, err := ingress.Render(st, s.params())
		if err != nil {
			fmt.Fprintf(stderr, "voxingress render: %v\n", err)
			return exitFail
		}
		stdout.Write(cfg)
		return exitOK
	case "apply":
		return apply(ctx, cmd, s, st, st, stdout, stderr)
	case "list":
		return list(ctx, s, st, stdout, stderr)
	}
	var next ingress.State
	switch cmd {
	case "add-fleet":
		f := ingress.Fleet{Name: a[0], URL: a[1]}
		if err := ingress.ValidateFleet(f); err != nil {
			fmt.Fprintf(stderr, "voxingress add-fleet: %v\n", err)
			return exitUsage
		}
		next, err = st.Add(f)
	case "remove-fleet":
		next, err = st.Remove(a[0])
	case "drain", "undrain":
		next, err = st.SetDrain(a[0], cmd == "drain")
	}
	if err != nil {
		fmt.Fprintf(stderr, "voxingress %s: %v\n", cmd, err)
		return exitFail
	}
	return apply(ctx, cmd, s, st, next, stdout, stderr)
}

// apply renders next, checks and installs it, and then records next as the
// fleet list; a configuration HAProxy refuses leaves both the running
// configuration and the fleet list as they were.
func apply(ctx context.Context, cmd string, s *settings, prev, next ingress.State, stdout, stderr io.Writer) int {
	cfg, err := ingress.Render(next, s.params())
	if err != nil {
		fmt.Fprintf(stderr, "voxingress %s: %v\n", cmd, err)
		return exitFail
	}
	changed, err := s.applier().Apply(ctx, cfg)
	var ce *ingress.CheckError
	if errors.As(err, &ce) {
		fmt.Fprintf(stderr, "voxingress %s: %v\nnothing changed: %s and %s are as they were\n", cmd, err, s.config, s.state)
		return exitFail
	}
	if err != nil && !changed {
		fmt.Fprintf(stderr, "voxingress %s: %v\n", cmd, err)
		return exitFail
	}
	if serr := ingress.Save(s.state, next); serr != nil {
		fmt.Fprintf(stderr, "voxingress %s: %s was installed, but the fleet list was not saved: %v\n", cmd, s.config, serr)
		return exitFail
	}
	if err != nil {
		fmt.Fprintf(stderr, "voxingress %s: %s checked and installed, but %v\n", cmd, s.config, err)
		return exitFail
	}
	switch {
	case !changed:
		fmt.Fprintf(stdout, "%s unchanged (%d fleet hosts)\n", s.config, len(next.Fleets))
	case s.reload == "":
		fmt.Fprintf(stdout, "%s checked and written (%d fleet hosts); no reload command set\n", s.config, len(next.Fleets))
	default:
		fmt.Fprintf(stdout, "%s checked and written (%d fleet hosts); HAProxy reloaded\n", s.config, len(next.Fleets))
	}
	return exitOK
}

type listRow struct {
	ingress.Fleet
	Live *ingress.ServerStat `json:"live,omitempty"`
}

func list(ctx context.Context, s *settings, st ingress.State, stdout, stderr io.Writer) int {
	var live map[string]ingress.ServerStat
	var liveErr error
	if s.statsSocket != "-" {
		live, liveErr = ingress.Stats(ctx, s.statsSocket)
	}
	rows := make([]listRow, 0, len(st.Fleets))
	for _, f := range st.Fleets {
		r := listRow{Fleet: f}
		if l, ok := live[f.Name]; ok {
			r.Live = &l
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	if s.json {
		out := struct {
			Fleets []listRow `json:"fleets"`
			Error  string    `json:"live_error,omitempty"`
		}{Fleets: rows}
		if liveErr != nil {
			out.Error = liveErr.Error()
		}
		_ = json.NewEncoder(stdout).Encode(out)
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tURL\tCONFIG\tSTATUS\tCHECK\tCALLS\tTOTAL")
	for _, r := range rows {
		cfg := "active"
		if r.Drain {
			cfg = "drain"
		}
		status, check, calls, total := "?", "", "", ""
		if r.Live != nil {
			status, check, calls, total = r.Live.Status, r.Live.Check, fmt.Sprint(r.Live.Sessions), fmt.Sprint(r.Live.Total)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.URL, cfg, status, check, calls, total)
	}
	tw.Flush()
	if liveErr != nil {
		fmt.Fprintf(stderr, "voxingress list: no live status: %v\n", liveErr)
	}
	return exitOK
}
