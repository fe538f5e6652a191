// Command voxbridge is the Vox Backend API (see api/). Subcommands:
//
//	voxbridge [serve] [--host H] [--port P] [--log-level L]
//	voxbridge bootstrap --org NAME --email E --password P
//	voxbridge token --audience runtime|fleet [--fleet-id ID] [--ttl 5m] [--subject NAME]
//	voxbridge version | --version
//	voxbridge help | -h | --help
//
// Settings come from the environment (see deploy/env/voxbridge.env.example).
// Exit codes: 0 ok, 1 failure, 2 bad usage or configuration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/oklog/run"

	"github.com/voxplatform/vox/api"
	"github.com/voxplatform/vox/api/auth"
	"github.com/voxplatform/vox/api/config"
	"github.com/voxplatform/vox/store"
	"github.com/voxplatform/vox/version"
)

func main() {
	os.Exit(runMain(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

const usage = `usage:
  voxbridge [serve] [--host H] [--port P] [--log-level L]
  voxbridge bootstrap --org NAME --email E --password P
  voxbridge token --audience runtime|fleet [--fleet-id ID] [--ttl 5m] [--subject NAME]
  voxbridge version | --version
  voxbridge help | -h | --help`

// help is the full help: commands, then every environment setting with
// its default, from the table the configuration loader itself reads.
func help(w io.Writer) {
	fmt.Fprintf(w, `voxbridge %s — the Vox Backend API

%s

commands:
  serve      run the API (the default)
  bootstrap  create an organisation and its owner (needs MONGODB_URI only)
  token      print a service token signed with VOX_SERVICE_SECRET, for
             operators and scripts calling /runtime or a fleet
  version    print the version

environment (flags override --host, --port, --log-level):
`, version.Version, usage)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, st := range config.Settings() {
		def := st.Default
		switch {
		case st.Required:
			def = "(required)"
		case def == "":
			def = "(empty)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", st.Name, def, st.Help)
	}
	fmt.Fprintf(tw, "  %s\t%s\t%s\n", "VOXBRIDGE_BOOTSTRAP_PASSWORD", "(empty)", "bootstrap's owner password when --password is not given")
	_ = tw.Flush()
	fmt.Fprintln(w, "\nexit codes: 0 ok, 1 failure, 2 bad usage or configuration")
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

func runMain(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		switch a := args[0]; {
		case isHelp(a):
			cmd, args = "help", args[1:]
		case a == "--version" || a == "-version":
			cmd, args = "version", args[1:]
		case !strings.HasPrefix(a, "-"):
			cmd, args = a, args[1:]
		}
	}
	switch cmd {
	case "serve":
		if slices.ContainsFunc(args, isHelp) {
			help(stdout)
			return 0
		}
		return serve(args, getenv, stderr)
	case "bootstrap":
		return bootstrap(args, getenv, stdout, stderr)
	case "token":
		return token(args, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, version.Version)
		return 0
	case "help":
		help(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "voxbridge: unknown command %q\n%s\n", cmd, usage)
	return 2
}

// configError prints every problem of a configuration, one per line.
func configError(stderr io.Writer, err error) int {
	var ce *config.Error
	if errors.As(err, &ce) {
		fmt.Fprintln(stderr, "voxbridge: invalid configuration:")
		for _, p := range ce.Problems {
			fmt.Fprintln(stderr, "  "+p)
		}
		return 2
	}
	fmt.Fprintf(stderr, "voxbridge: %v\n", err)
	return 2
}

// newLogger returns the base logger (components add their own
// "component") and main's own logger.
func newLogger(w io.Writer, level string) (base, main *slog.Logger) {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	base = slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
	return base, base.With("component", "voxbridge")
}

func serve(args []string, getenv func(string) string, stderr io.Writer) int {
	cfg, err := config.Load(getenv, args)
	if err != nil {
		return configError(stderr, err)
	}
	base, logger := newLogger(stderr, cfg.LogLevel)
	srv, err := api.New(cfg, base)
	if err != nil {
		logger.Error("start", "err", err)
		return 1
	}
	defer srv.Close()

	// Shutdown order: a signal ends the group; the HTTP server stops
	// accepting, ends event streams and drains in-flight requests; the fleet
	// poller stops; then the MongoDB and Redis clients close (defer above).
	var g run.Group
	{
		ctx, cancel := context.WithCancel(context.Background())
		g.Add(func() error { return srv.Run(ctx) }, func(error) {
			logger.Info("stopping http server")
			cancel()
		})
	}
	{
		ctx, cancel := context.WithCancel(context.Background())
		g.Add(func() error { return srv.Poller().Run(ctx) }, func(error) {
			logger.Info("stopping fleet poller")
			cancel()
		})
	}
	g.Add(run.SignalHandler(context.Background(), syscall.SIGINT, syscall.SIGTERM))
	logger.Info("starting", "version", version.Version, "addr", cfg.Addr())
	err = g.Run()
	var se run.SignalError
	if err != nil && !errors.As(err, &se) {
		logger.Error("exit", "err", err)
		return 1
	}
	logger.Info("exit", "reason", fmt.Sprint(err))
	return 0
}

func bootstrap(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bootstrap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	org := fs.String("org", "", "organisation name (required)")
	email := fs.String("email", "", "owner e-mail (required)")
	password := fs.String("password", "", "owner password (or VOXBRIDGE_BOOTSTRAP_PASSWORD)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: voxbridge bootstrap --org NAME --email E --password P\n\n"+
			"Creates the organisation and its owner unless they exist (idempotent). Reads MONGODB_URI,\n"+
			"MONGODB_DATABASE and BCRYPT_COST from the environment.\n\nflags:")
		fs.PrintDefaults()
	}
	if slices.ContainsFunc(args, isHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return 0
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *password == "" {
		*password = getenv("VOXBRIDGE_BOOTSTRAP_PASSWORD")
	}
	var problems []string
	name := strings.TrimSpace(*org)
	if name == "" || len(name) > 100 {
		problems = append(problems, "--org: 1 to 100 characters")
	}
	owner := store.User{Email: store.NormalizeEmail(*email), Name: "Owner", Role: store.RoleOwner}
	if err := owner.Validate(); err != nil {
		problems = append(problems, "--email: "+err.Error())
	}
	if err := auth.ValidatePassword(*password); err != nil {
		problems = append(problems, "--password: "+err.Error())
	}
	cfg, err := config.LoadMongoOnly(getenv, nil)
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			problems = append(problems, ce.Problems...)
		}
	}
	if len(problems) > 0 {
		return configError(stderr, &config.Error{Problems: problems})
	}
	_, logger := newLogger(stderr, cfg.LogLevel)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := store.Open(cfg.MongoURI, cfg.MongoDatabase)
	if err != nil {
		logger.Error("bootstrap", "err", err)
		return 1
	}
	defer st.Close(context.Background())
	if err := st.EnsureIndexes(ctx); err != nil {
		logger.Error("bootstrap: create indexes", "err", err)
		return 1
	}
	owner.PasswordHash, err = auth.HashPassword(*password, cfg.BcryptCost)
	if err != nil {
		logger.Error("bootstrap", "err", err)
		return 1
	}
	created, err := st.Bootstrap(ctx, name, owner)
	if errors.Is(err, store.ErrConflict) {
		fmt.Fprintf(stderr, "voxbridge: %s already belongs to another organisation\n", owner.Email)
		return 1
	} else if err != nil {
		logger.Error("bootstrap", "err", err)
		return 1
	}
	if created {
		fmt.Fprintf(stdout, "created organisation %q with owner %s\n", name, owner.Email)
	} else {
		fmt.Fprintf(stdout, "organisation %q and owner %s already exist; nothing changed\n", name, owner.Email)
	}
	return 0
}
