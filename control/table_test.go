package control

import (
	"strings"
	"testing"

	"github.com/voxplatform/vox/fleetapi"
)

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	err := WriteTable(&b, fleetapi.Fleet{Status: fleetapi.FleetDegraded, Desired: 3, Ready: 2, Busy: 1, Free: 1, Failed: 1, Version: "v1",
		Workers: []fleetapi.FleetWorker{
			{Index: 1, PID: 10, State: fleetapi.SlotBusy, CallID: "CA1", CallS: 75.4, Calls: 4, UptimeS: 90, Version: "v1"},
			{Index: 1, PID: 9, State: fleetapi.SlotDraining, CallID: "CA0", Retired: true, Version: "v0"},
			{Index: 2, PID: 11, State: fleetapi.SlotReady, Version: "v1"},
			{Index: 3, State: fleetapi.SlotFailed, Restarts: 5, Reason: "5 quick deaths within 1m0s"},
			{Index: 4, State: fleetapi.SlotStopped, Calls: 7, Restarts: 1, Reason: "drained by operator"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"fleet degraded  version v1  desired 3  ready 2  busy 1  free 1  draining 0  failed 1",
		"1      10   busy      CA1 (1m15s)  4      0         1m30s   v1",
		"replaced, finishing call",
		"3      -    failed    -            0      5         -",
		"5 quick deaths within 1m0s",
		"4      -    stopped   -            7      1         -       -",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
