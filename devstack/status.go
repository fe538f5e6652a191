package devstack

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// PartHealth is one part's answer to `voxdev status`.
type PartHealth struct {
	Part
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Status checks every part of the stack running from dir: its process is
// alive and its health URL answers 200 (or its port accepts connections).
func Status(ctx context.Context, dir string) ([]PartHealth, error) {
	st, err := runningState(dir)
	if err != nil {
		return nil, err
	}
	out := make([]PartHealth, len(st.Parts))
	var wg sync.WaitGroup
	for i, p := range st.Parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			h := PartHealth{Part: p}
			var err error
			switch {
			case !alive(p.PID):
				h.Error = fmt.Sprintf("process %d is gone", p.PID)
			case p.Health != "":
				err = CheckHTTP(cctx, p.Health)
			default:
				err = tcpOK(p.Addr)(cctx)
			}
			if err == nil && p.Metrics != "" {
				err = CheckHTTP(cctx, p.Metrics)
			}
			if h.Error == "" && err != nil {
				h.Error = err.Error()
			}
			h.OK = h.Error == ""
			out[i] = h
		}()
	}
	wg.Wait()
	return out, nil
}

// PrintStatus writes Status as a table.
func PrintStatus(w io.Writer, parts []PartHealth) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PART\tHEALTH\tPID\tURL\tDETAIL")
	for _, p := range parts {
		state := "ok"
		if !p.OK {
			state = "DOWN"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", p.Name, state, p.PID, p.URL, p.Error)
	}
	tw.Flush()
}

// CallTarget is the WebSocket URL of the running stack's fleet site and the
// service secret a test call's token is signed with.
func CallTarget(dir string) (url, secret string, err error) {
	st, err := runningState(dir)
	if err != nil {
		return "", "", err
	}
	sec, err := loadSecrets(dir)
	if err != nil {
		return "", "", err
	}
	for _, p := range st.Parts {
		if p.Name == "voxfleet" {
			return strings.Replace(p.URL, "http://", "ws://", 1) + "/ws/twilio", sec["VOX_SERVICE_SECRET"], nil
		}
	}
	return "", "", fmt.Errorf("the running stack has no fleet")
}

// runningState is the state of the stack running from dir, or
// ErrNotRunning.
func runningState(dir string) (State, error) {
	st, err := ReadState(dir)
	if os.IsNotExist(err) || (err == nil && !alive(st.PID)) {
		return st, ErrNotRunning
	}
	return st, err
}

// ConsoleURL is where the running stack's Console (and API site) is.
func ConsoleURL(dir string) (string, error) {
	st, err := runningState(dir)
	if err != nil {
		return "", err
	}
	for _, p := range st.Parts {
		if p.Name == "console" {
			return p.URL, nil
		}
	}
	return "", fmt.Errorf("the running stack has no API site")
}
