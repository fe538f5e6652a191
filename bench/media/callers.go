package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/voxplatform/vox/internal/testlivekit"
)

// callerResult is one caller's report.
type callerResult struct {
	Room      string `json:"room"`
	FirstLoud int64  `json:"first_loud_unix_ns"`
	Heard     audio  `json:"heard"`
	Error     string `json:"error,omitempty"`
}

// callers joins one caller per room, then speaks in turns until told to
// end on stdin; it prints one JSON line per caller.
func callers(args []string) int {
	fs := flag.NewFlagSet("callers", flag.ContinueOnError)
	url := fs.String("url", "", "LiveKit URL")
	key := fs.String("key", "", "API key")
	secret := fs.String("secret", "", "API secret")
	rooms := fs.String("rooms", "", "comma-separated rooms")
	speechFile := fs.String("speech", "", "8 kHz mono WAV the callers say")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	testlivekit.QuietSDK()
	speech, err := testlivekit.ReadWAV(*speechFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "callers:", err)
		return 1
	}
	srv := &testlivekit.Server{URL: *url, Key: *key, Secret: *secret}
	names := strings.Split(*rooms, ",")
	type caller struct {
		room  string
		p     *testlivekit.Participant
		clock *frameClock
	}
	cs := make([]*caller, len(names))
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, room := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &caller{room: room, clock: &frameClock{}}
			tok, err := srv.Token(room, "caller-"+room, livekit.ParticipantInfo_STANDARD)
			if err == nil {
				c.p, err = testlivekit.JoinParticipant(context.Background(), *url, tok,
					testlivekit.JoinOptions{OnAudio: c.clock.add})
			}
			cs[i], errs[i] = c, err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			fmt.Fprintf(os.Stderr, "callers: join %s: %v\n", names[i], err)
			return 1
		}
	}
	os.Stdout.WriteString("joined\n")
	end := make(chan struct{})
	go func() {
		in := bufio.NewScanner(os.Stdin)
		in.Scan() // "end" or EOF
		close(end)
	}()
	speechDur := time.Duration(len(speech)) * time.Second / testlivekit.Rate
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Wait for the greeting, then speak, leave room for the echo,
			// and speak again.
			for c.p.FirstLoud().IsZero() {
				select {
				case <-end:
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
			wait := 2 * time.Second
			for {
				select {
				case <-end:
					return
				case <-time.After(wait):
				}
				_ = c.p.Play(speech)
				wait = 2*speechDur + 1500*time.Millisecond
			}
		}()
	}
	<-end
	wg.Wait()
	enc := json.NewEncoder(os.Stdout)
	for _, c := range cs {
		r := callerResult{Room: c.room, Heard: c.clock.report(testlivekit.Rate)}
		if t := c.p.FirstLoud(); !t.IsZero() {
			r.FirstLoud = t.UnixNano()
		}
		_ = enc.Encode(r)
		c.p.Leave()
	}
	return 0
}
