// Command media measures the LiveKit leg's capacity: K concurrent calls on
// this host, one worker process per call (roomleg and the scripted agent,
// recording both sides to disk), the K callers in one separate process
// (speaking espeak-ng speech in turns), a real livekit-server with its
// Redis. Per K it prints CPU-seconds per call-second of the workers, audio
// received/expected on each side, the p99 gap between audio frames, the
// PSS of a busy worker, and /attach → first agent audio heard (p50/p95).
// It asserts nothing.
//
// Usage: go run ./bench/media [-k 1,8,16] [-duration 20s]
// [-stagger 0] [-single] [-complexity N] [-gomaxprocs 1] [-gogc 100] [-json]
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "worker":
			os.Exit(worker(os.Args[2:]))
		case "callers":
			os.Exit(callers(os.Args[2:]))
		}
	}
	os.Exit(orchestrate(os.Args[1:]))
}

func usage(fs *flag.FlagSet, err error) int {
	fmt.Fprintln(os.Stderr, "media:", err)
	fs.Usage()
	return 2
}
