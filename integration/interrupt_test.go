package integration

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/twilio"
)

// TestSecondInterruptStopsEverything is a double Ctrl-C of `make run` with
// a call in flight: the first SIGINT drains (the idle worker exits, the call
// goes on), the second stops every worker at once, says which call it cut,
// and leaves no worker process and no socket behind.
func TestSecondInterruptStopsEverything(t *testing.T) {
	f := startFleet(t, 2, 0)
	f.waitReady(2)
	cl := f.call(t)
	fl, _ := f.health()
	var busy, idle fleetapi.FleetWorker
	for _, w := range fl.Workers {
		if w.State == fleetapi.SlotBusy {
			busy = w
		} else {
			idle = w
		}
	}
	if busy.PID == 0 || idle.PID == 0 {
		t.Fatalf("want one busy and one idle worker: %+v", fl.Workers)
	}

	f.cmd.Process.Signal(syscall.SIGINT)
	f.waitFor(10*time.Second, "the idle worker to exit", func() bool { return syscall.Kill(idle.PID, 0) != nil })
	if syscall.Kill(busy.PID, 0) != nil {
		t.Fatal("the first SIGINT ended the worker in a call")
	}

	f.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-f.exited:
	case <-time.After(15 * time.Second):
		t.Fatal("the daemon did not exit after a second SIGINT")
	}
	if f.exitErr != nil {
		t.Errorf("daemon exit: %v", f.exitErr)
	}
	if syscall.Kill(busy.PID, 0) == nil {
		t.Fatalf("worker %d (pid %d) outlived the daemon", busy.Index, busy.PID)
	}
	log := f.logText()
	if !strings.Contains(log, "a second signal stops every worker now") {
		t.Errorf("the first signal does not say what a second one does:\n%s", tail(log, 20))
	}
	if !strings.Contains(log, `"call_id":"`+busy.CallID+`"`) || !strings.Contains(log, `"calls_cut":1`) {
		t.Errorf("the log does not say which call was cut:\n%s", tail(log, 20))
	}
	if _, err := cl.Wait(ctxT(t, 5*time.Second), func(s twilio.Stats) bool { return s.Closed }); err != nil {
		t.Errorf("the cut call's stream did not close: %v", err)
	}
	entries, err := os.ReadDir(filepath.Join(f.dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind in the socket directory: %s", e.Name())
	}
}
