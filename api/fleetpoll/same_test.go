package fleetpoll

import (
	"testing"
	"time"

	"github.com/voxplatform/vox/fleetapi"
)

// TestSameIgnoresAges: a reading whose only change is time (when it was
// taken, how old calls and workers are) publishes no event; a change of a
// worker's state, call or version does.
func TestSameIgnoresAges(t *testing.T) {
	base := func() Capacity {
		return Capacity{FleetID: "f", Healthy: true, Busy: 1, CheckedAt: time.Unix(100, 0),
			Workers: []fleetapi.FleetWorker{{Index: 1, State: fleetapi.SlotBusy, CallID: "CA1", CallS: 3, UptimeS: 50, Version: "v1"},
				{Index: 2, State: fleetapi.SlotReady, UptimeS: 50, Version: "v1"}}}
	}
	for _, tt := range []struct {
		name string
		mod  func(c *Capacity)
		same bool
	}{
		{"later reading", func(c *Capacity) { c.CheckedAt = time.Unix(200, 0) }, true},
		{"call older", func(c *Capacity) { c.Workers[0].CallS, c.Workers[1].UptimeS = 9, 99 }, true},
		{"worker busy", func(c *Capacity) { c.Workers[1].State, c.Workers[1].CallID = fleetapi.SlotBusy, "CA2" }, false},
		{"restart counted", func(c *Capacity) { c.Workers[1].Restarts = 1 }, false},
		{"new version", func(c *Capacity) { c.Workers[0].Version = "v2" }, false},
		{"rollout", func(c *Capacity) { c.Rollout = &fleetapi.Rollout{Kind: "restart", Total: 2} }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, b := base(), base()
			tt.mod(&b)
			if got := a.same(b); got != tt.same {
				t.Fatalf("same = %v, want %v", got, tt.same)
			}
			if a.Workers[0].CallS != 3 {
				t.Fatal("same changed its receiver's rows")
			}
		})
	}
}
