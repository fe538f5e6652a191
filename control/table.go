package control

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/voxplatform/vox/fleetapi"
)

// WriteTable prints f as the human table of `voxfleet status`.
func WriteTable(w io.Writer, f fleetapi.Fleet) error {
	fmt.Fprintf(w, "fleet %s  version %s  desired %d  ready %d  busy %d  free %d  draining %d  failed %d\n\n",
		f.Status, f.Version, f.Desired, f.Ready, f.Busy, f.Free, f.Draining, f.Failed)
	if u := f.Upstream; u != nil && !u.Applied {
		if u.Error != "" {
			fmt.Fprintf(w, "nginx upstream NOT APPLIED: nginx routes to %d worker(s): %s\n\n", u.Servers, u.Error)
		} else {
			fmt.Fprintf(w, "nginx upstream: a new set is being applied; nginx routes to %d worker(s)\n\n", u.Servers)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INDEX\tPID\tSTATE\tCALL\tCALLS\tRESTARTS\tUPTIME\tVERSION\tNOTE")
	for _, wk := range f.Workers {
		pid, call, note := "-", "-", wk.Reason
		if wk.PID > 0 {
			pid = strconv.Itoa(wk.PID)
		}
		if wk.CallID != "" {
			call = wk.CallID
			if wk.CallS > 0 {
				call += " (" + (time.Duration(wk.CallS) * time.Second).String() + ")"
			}
		}
		if wk.Retired {
			note = joinNote("replaced, finishing call", note)
		}
		if wk.Stalled {
			note = joinNote("media stalled", note)
		}
		if wk.NotRouted {
			note = joinNote("not routed by nginx yet", note)
		}
		if note == "" {
			note = "-"
		}
		ver := wk.Version
		if ver == "" {
			ver = "-"
		}
		uptime := "-"
		if wk.PID > 0 {
			uptime = (time.Duration(wk.UptimeS) * time.Second).String()
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", wk.Index, pid, wk.State, call, wk.Calls,
			wk.Restarts, uptime, ver, note)
	}
	return tw.Flush()
}

func joinNote(a, b string) string {
	if b == "" {
		return a
	}
	return a + "; " + b
}
