package supervisor

import (
	"errors"
	"testing"

	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/upstream"
)

func TestRoutedOnly(t *testing.T) {
	dir := "/run/vf"
	ws := func() []fleetapi.FleetWorker {
		return []fleetapi.FleetWorker{
			{Index: 1, State: stateReady},
			{Index: 2, State: stateBusy, CallID: "c"},
			{Index: 3, State: stateReady},
			{Index: 3, State: stateDraining, Retired: true, CallID: "old"},
		}
	}
	tests := []struct {
		name       string
		st         upstream.State
		free       int
		status     fleetapi.FleetStatus
		notRouted  []int
		applied    bool
		errMessage string
	}{
		{"all applied", upstream.State{Applied: []string{workerPath(dir, 1), workerPath(dir, 2), workerPath(dir, 3)}, Current: true},
			2, fleetapi.FleetOK, nil, true, ""},
		{"worker 3 not applied yet", upstream.State{Applied: []string{workerPath(dir, 1), workerPath(dir, 2)}},
			1, fleetapi.FleetOK, []int{3}, false, ""},
		{"nginx never reloaded", upstream.State{Err: errors.New("nginx is not running")},
			0, fleetapi.FleetDegraded, []int{1, 2, 3}, false, "nginx is not running"},
		{"reload failed after an earlier success", upstream.State{Applied: []string{workerPath(dir, 1)}, Err: errors.New("reload failed")},
			1, fleetapi.FleetDegraded, []int{2, 3}, false, "reload failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fleetFrom(ws(), 3, "v")
			routedOnly(&f, tt.st, dir)
			if f.Free != tt.free || f.Status != tt.status || f.Upstream.Applied != tt.applied || f.Upstream.Error != tt.errMessage {
				t.Fatalf("free %d status %s upstream %+v; want free %d status %s applied %v error %q",
					f.Free, f.Status, *f.Upstream, tt.free, tt.status, tt.applied, tt.errMessage)
			}
			var notRouted []int
			for _, w := range f.Workers {
				if w.NotRouted {
					notRouted = append(notRouted, w.Index)
				}
			}
			if len(notRouted) != len(tt.notRouted) {
				t.Fatalf("not routed %v, want %v", notRouted, tt.notRouted)
			}
			for i := range notRouted {
				if notRouted[i] != tt.notRouted[i] {
					t.Fatalf("not routed %v, want %v", notRouted, tt.notRouted)
				}
			}
			if f.Ready != 3 || f.Busy != 2 {
				t.Fatalf("ready %d busy %d: routing must not change them", f.Ready, f.Busy)
			}
		})
	}
}
