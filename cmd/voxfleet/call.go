package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/voxplatform/vox/carrier"
	"github.com/voxplatform/vox/control"
	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/svcauth"
)

// callReport is what `voxfleet call` found.
type callReport struct {
	Carrier    string `json:"carrier"`
	CallSID    string `json:"call_sid"`
	Target     string `json:"target"`
	GreetingMS int    `json:"greeting_ms"`
	EchoMS     int    `json:"echo_ms"`
	Ended      bool   `json:"ended"`
	// HungUp: the agent did not end the call on '#' within hangupAfter,
	// so the caller hung up.
	HungUp    bool    `json:"hung_up,omitempty"`
	CloseCode int     `json:"close_code"`
	SetupMS   float64 `json:"setup_ms"`
	OK        bool    `json:"ok"`
	Problem   string  `json:"problem,omitempty"`
}

// hangupAfter is how long a test call waits for the agent to end the call
// after '#' before hanging up itself.
const hangupAfter = 5 * time.Second

// runCall places one test call in a carrier's media-stream protocol
// (Twilio Media Streams unless --carrier says otherwise): it waits for the
// greeting, speaks for a moment, waits for the echo (any answer of the
// agent's), then presses '#' and, unless the agent ends the call, hangs up.
// With --conversation it talks instead (holdConversation).
func runCall(args []string, stdout, stderr io.Writer) int {
	c := newCLI("call", stderr)
	var url, socket, caFile string
	var speak, timeout time.Duration
	c.fs.StringVar(&url, "url", "", "stream URL, e.g. ws://fleet.example.com/ws/twilio (default: a free worker's socket; with --carrier, its /ws/<carrier> route)")
	carrierName := c.fs.String("carrier", carrier.Twilio.Name, "the carrier protocol to speak: "+strings.Join(carrier.Names(), ", "))
	c.fs.StringVar(&socket, "socket", "", "worker socket to call directly")
	c.fs.StringVar(&caFile, "ca", "", "PEM file of the CA that signed the wss:// server's certificate (a private CA)")
	c.fs.DurationVar(&speak, "speak", time.Second, "how long the caller speaks")
	c.fs.DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	talk := c.fs.Bool("conversation", false, "hold a three-turn conversation with the demo agent ($VOXFLEET_DEFAULT_AGENT=demo) or --agent-id's: "+
		"espeak-ng sentences, the third over the agent's answer, which it must stop")
	agentID := c.fs.String("agent-id", "", "the Backend's agent to call (its configuration and a call record in the Backend); default: the built-in scripted agent")
	fleetID := c.fs.String("fleet-id", os.Getenv("VOXFLEET_FLEET_ID"), "fleet id the token is scoped to ($VOXFLEET_FLEET_ID)")
	pos, code := c.parseArgs(args, stderr)
	if code >= 0 {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, c.fs, "takes no arguments")
	}
	proto, ok := carrier.Protocols()[*carrierName]
	if !ok {
		return usageErr(stderr, c.fs, fmt.Sprintf("--carrier %q: want one of %s", *carrierName, strings.Join(carrier.Names(), ", ")))
	}
	secret := os.Getenv("VOX_SERVICE_SECRET")
	if err := svcauth.ValidateSecret(secret); err != nil {
		fmt.Fprintf(stderr, "voxfleet call: $VOX_SERVICE_SECRET: %v (the fleet's service secret)\n", err)
		return exitUsage
	}
	if err := svcauth.ValidateFleetID(*fleetID); err != nil {
		fmt.Fprintf(stderr, "voxfleet call: --fleet-id: %v\n", err)
		return exitUsage
	}
	if *talk {
		timeoutSet := false
		c.fs.Visit(func(f *flag.Flag) { timeoutSet = timeoutSet || f.Name == "timeout" })
		if !timeoutSet {
			timeout = 2 * time.Minute
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	cfg := carrier.ClientConfig{URL: url}
	if caFile != "" {
		pool, err := loadCA(caFile)
		if err != nil {
			fmt.Fprintf(stderr, "voxfleet call: --ca: %v\n", err)
			return exitUsage
		}
		cfg.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if url == "" {
		if socket == "" {
			f, err := control.NewClient(c.socketDir).Status(ctx)
			if err != nil {
				return fail(stderr, "call", err)
			}
			for _, w := range f.Workers {
				if w.State == fleetapi.SlotReady {
					socket = filepath.Join(c.socketDir, "worker-"+strconv.Itoa(w.Index)+".sock")
					break
				}
			}
			if socket == "" {
				fmt.Fprintln(stderr, "voxfleet call: no free worker")
				return exitFail
			}
		}
		cfg.URL, cfg.SocketPath = "ws://worker"+fleetapi.StreamPath(proto.Name), socket
	}
	tok, err := svcauth.Sign([]byte(secret), svcauth.FleetAudience(*fleetID), "voxfleet-call", 5*time.Minute)
	if err != nil {
		return fail(stderr, "call", err)
	}
	cfg.Token = tok
	if *agentID != "" {
		cfg.Parameters = map[string]string{"agent_id": *agentID}
		if proto == carrier.Plivo {
			cfg.Parameters = map[string]string{"agentId": *agentID} // Plivo's extra headers allow [A-Za-z0-9] only
		}
	}

	target := cfg.URL
	if cfg.SocketPath != "" {
		target = cfg.SocketPath
	}
	if *talk {
		rep := conversationReport{Carrier: proto.Name, Target: target, AgentID: *agentID}
		problem := placeConversation(ctx, proto, cfg, *agentID == "", &rep)
		rep.Problem, rep.OK = problem, problem == ""
		if c.json {
			_ = json.NewEncoder(stdout).Encode(rep)
		} else {
			printConversation(stdout, rep)
		}
		if problem != "" {
			return exitFail
		}
		return exitOK
	}
	rep := callReport{Carrier: proto.Name, Target: target}
	problem := placeTestCall(ctx, proto, cfg, speak, &rep)
	rep.Problem, rep.OK = problem, problem == ""
	if c.json {
		_ = json.NewEncoder(stdout).Encode(rep)
	} else {
		by := "'#'"
		if rep.HungUp {
			by = "the caller (the agent did not end the call on '#')"
		}
		fmt.Fprintf(stdout, "%s call %s via %s\n  answered in %.1f ms\n  greeting heard: %d ms of audio\n  echo heard:     %d ms of audio\n  ended by %s: %v (close code %d)\n",
			rep.Carrier, rep.CallSID, rep.Target, rep.SetupMS, rep.GreetingMS, rep.EchoMS, by, rep.Ended, rep.CloseCode)
		if problem != "" {
			fmt.Fprintf(stdout, "  PROBLEM: %s\n", problem)
		}
	}
	if problem != "" {
		return exitFail
	}
	return exitOK
}

func placeTestCall(ctx context.Context, proto *carrier.Protocol, cfg carrier.ClientConfig, speak time.Duration, rep *callReport) string {
	start := time.Now()
	cl, resp, err := carrier.Dial(ctx, proto, cfg)
	if err != nil {
		if resp != nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return fmt.Sprintf("refused: %s %s", resp.Status, b)
		}
		return err.Error()
	}
	defer cl.Close()
	rep.SetupMS = float64(time.Since(start).Microseconds()) / 1000
	rep.CallSID = cl.CallID()
	if err := cl.Start(); err != nil {
		return err.Error()
	}
	ms := func(samples int) int { return samples * 1000 / carrier.SampleRate }
	// The agent marks the end of its greeting (its opening reply); the
	// client reports the mark once that audio would have finished playing,
	// as a carrier does.
	st, err := cl.Wait(ctx, func(s carrier.Stats) bool { return len(s.Marks) > 0 })
	rep.GreetingMS = ms(st.VoicedSamples)
	if err != nil {
		return "no greeting heard"
	}
	greeting := st.VoicedSamples
	if err := cl.SendAudio(ctx, append(carrier.Tone(speak, 440, 8000), carrier.Silence(time.Second)...), cl.FrameDuration()); err != nil {
		return "speaking: " + err.Error()
	}
	st, err = cl.Wait(ctx, func(s carrier.Stats) bool { return s.VoicedSamples > greeting })
	rep.EchoMS = ms(st.VoicedSamples - greeting)
	if err != nil {
		return "no echo heard"
	}
	if err := cl.SendDTMF("#"); err != nil {
		return "pressing #: " + err.Error()
	}
	closed := func(s carrier.Stats) bool { return s.Closed }
	wctx, cancel := context.WithTimeout(ctx, hangupAfter)
	st, err = cl.Wait(wctx, closed)
	cancel()
	if err != nil && ctx.Err() == nil {
		// An agent whose script does not end the call on '#': the caller
		// hangs up, as a carrier's stop message says.
		rep.HungUp = true
		if err := cl.Stop(); err != nil {
			return "hanging up: " + err.Error()
		}
		st, err = cl.Wait(ctx, closed)
	}
	rep.Ended, rep.CloseCode = st.Closed, st.CloseCode
	if err != nil {
		return "the call did not end after '#'"
	}
	return ""
}

// loadCA reads a PEM bundle of CA certificates.
func loadCA(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}
