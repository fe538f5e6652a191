package integration

import (
	"syscall"
	"testing"
	"time"

	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/twilio"
)

// TestDaemonDeathKeepsCalls kills the daemon with a call in progress: the
// busy worker finishes its call, the idle one exits, and the next daemon
// neither kills the survivor nor starts a second worker on its index — it
// takes the index back once the call ends.
func TestDaemonDeathKeepsCalls(t *testing.T) {
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

	if err := f.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-f.exited
	f.waitFor(5*time.Second, "the idle worker to exit", func() bool { return syscall.Kill(idle.PID, 0) != nil })
	if syscall.Kill(busy.PID, 0) != nil {
		t.Fatal("the busy worker died with the daemon")
	}
	echo := func() {
		t.Helper()
		before := cl.Stats().VoicedBytes
		cl.SendAudio(ctxT(t, 5*time.Second), append(twilio.Tone(400*time.Millisecond, 440, 8000), twilio.Silence(800*time.Millisecond)...), 0)
		if _, err := cl.Wait(ctxT(t, 10*time.Second), func(s twilio.Stats) bool { return s.VoicedBytes > before }); err != nil {
			t.Fatalf("call cut: %v", err)
		}
	}
	echo()

	// The next daemon (systemd's Restart=always) waits for the survivor.
	f.startDaemon()
	f.waitFor(10*time.Second, "survivor held, other index serving", func() bool {
		fl, _ := f.health()
		for _, w := range fl.Workers {
			if w.Index == busy.Index && w.State == fleetapi.SlotHeld && w.PID == busy.PID {
				return fl.Ready == 1
			}
		}
		return false
	})
	echo()
	if syscall.Kill(busy.PID, 0) != nil {
		t.Fatal("the new daemon killed the survivor")
	}
	hangUp(t, cl)
	f.waitReady(2)
	fl, _ = f.health()
	for _, w := range fl.Workers {
		if w.PID == busy.PID {
			t.Fatalf("survivor still listed after its call: %+v", w)
		}
	}
}
