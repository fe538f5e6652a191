package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// envFlags binds flags whose defaults come from VOXFLEET_* variables and
// collects every unparsable variable, so a bad setting is named by the
// variable the operator wrote.
type envFlags struct {
	fs   *flag.FlagSet
	errs []error
	// deferEnvErrs leaves errs for the caller to report with its own
	// validation, so every bad setting is named in one message.
	deferEnvErrs bool
}

func newEnvFlags(name string, stderr io.Writer) *envFlags {
	fs := flag.NewFlagSet("voxfleet "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &envFlags{fs: fs}
}

func envName(flagName string) string {
	return "VOXFLEET_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (e *envFlags) String(p *string, name, def, help string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		def = v
	}
	e.fs.StringVar(p, name, def, help+" ($"+envName(name)+")")
}

func (e *envFlags) Int(p *int, name string, def int, help string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			e.errs = append(e.errs, fmt.Errorf("$%s: %q is not a whole number", envName(name), v))
		} else {
			def = n
		}
	}
	e.fs.IntVar(p, name, def, help+" ($"+envName(name)+")")
}

func (e *envFlags) Duration(p *time.Duration, name string, def time.Duration, help string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			e.errs = append(e.errs, fmt.Errorf("$%s: %q is not a duration (e.g. 90s, 10m)", envName(name), v))
		} else {
			def = d
		}
	}
	e.fs.DurationVar(p, name, def, help+" ($"+envName(name)+")")
}

// isSet reports whether the flag name was given on the command line or
// through its VOXFLEET_* variable.
func (e *envFlags) isSet(name string) bool {
	if _, ok := os.LookupEnv(envName(name)); ok {
		return true
	}
	set := false
	e.fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// parse parses args; it returns exitUsage (and has printed why) on failure,
// or -1 when parsing went well.
func (e *envFlags) parse(args []string, stderr io.Writer) int {
	if err := e.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if len(e.errs) > 0 && !e.deferEnvErrs {
		fmt.Fprintf(stderr, "%s: invalid configuration:\n", e.fs.Name())
		for _, err := range e.errs {
			fmt.Fprintf(stderr, "  %v\n", err)
		}
		return exitUsage
	}
	return -1
}

// Log formats of --log-format.
const (
	logAuto = "auto" // text on a terminal, JSON otherwise (the journal, a file, a pipe)
	logText = "text"
	logJSON = "json"
)

// resolveLogFormat turns --log-format into text or json; auto picks text
// when stderr is a terminal.
func resolveLogFormat(format string, terminal bool) (string, error) {
	switch format {
	case logText, logJSON:
		return format, nil
	case logAuto, "":
		if terminal {
			return logText, nil
		}
		return logJSON, nil
	}
	return "", fmt.Errorf("log format %q: want auto, text or json", format)
}

// newLogger builds the logger every voxfleet process writes to w (stderr:
// the journal under systemd) at level, as text or JSON (see resolveLogFormat).
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	format, err := resolveLogFormat(format, isTerminal(w))
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: l}
	if format == logText {
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return slog.New(slog.NewJSONHandler(w, opts)), nil
}
