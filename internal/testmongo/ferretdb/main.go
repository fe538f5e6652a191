// Command ferretdb is a test-only MongoDB-wire server: FerretDB's embeddable
// package with its SQLite handler, listening on a loopback TCP address. It
// lives in a Go module of its own so that FerretDB's dependencies never enter
// the project's go.mod. internal/testmongo builds and starts it.
//
// Usage: ferretdb --listen 127.0.0.1:PORT --dir DATA_DIR
//
// It prints "ready URI" on stdout once the listener is bound and stops on
// SIGTERM or SIGINT.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("ferretdb", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:27017", "TCP address to listen on")
	dir := fs.String("dir", "", "directory for the SQLite data files (required)")
	verbose := fs.Bool("v", false, "log FerretDB's own messages to stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "ferretdb: --dir is required")
		return 2
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
		return 1
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
		return 1
	}
	var w io.Writer = io.Discard
	if *verbose {
		w = os.Stderr
	}
	logger := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	fmt.Printf("ready %s\n", f.MongoDBURI())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	<-ctx.Done()
	// FerretDB waits for its clients to disconnect; a test that stops the
	// server wants it gone, as a stopped MongoDB would be. SQLite in WAL
	// mode keeps every committed write across an abrupt exit.
	select {
	case err := <-done:
		if err != nil {
			fmt.Fprintf(os.Stderr, "ferretdb: %v\n", err)
			return 1
		}
	case <-time.After(500 * time.Millisecond):
		fmt.Fprintln(os.Stderr, "ferretdb: clients still connected; exiting anyway")
	}
	return 0
}
