package callslot

import (
	"errors"
	"testing"
	"time"

	"github.com/voxplatform/vox/fleetapi"
)

func TestSlot(t *testing.T) {
	type step struct {
		op      string // acquire, claim, release, drain
		callID  string
		gen     uint64 // for claim and release; 0 = the last admitted
		wantErr error
		wantOK  bool // for claim, release, drain
		state   fleetapi.WorkerState
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"admit then release", []step{
			{op: "acquire", callID: "a", state: fleetapi.WorkerBusy},
			{op: "release", wantOK: true, state: fleetapi.WorkerIdle},
			{op: "acquire", callID: "b", state: fleetapi.WorkerBusy},
		}},
		{"second call refused", []step{
			{op: "acquire", callID: "a", state: fleetapi.WorkerBusy},
			{op: "acquire", callID: "b", wantErr: errBusy, state: fleetapi.WorkerBusy},
			{op: "acquire", callID: "", wantErr: errBusy, state: fleetapi.WorkerBusy},
		}},
		{"same call is idempotent", []step{
			{op: "acquire", callID: "a", state: fleetapi.WorkerBusy},
			{op: "acquire", callID: "a", wantErr: errSameCall, state: fleetapi.WorkerBusy},
		}},
		{"stale release ignored", []step{
			{op: "acquire", callID: "a", state: fleetapi.WorkerBusy},
			{op: "release", wantOK: true, state: fleetapi.WorkerIdle},
			{op: "acquire", callID: "b", state: fleetapi.WorkerBusy},
			{op: "release", gen: 1, wantOK: false, state: fleetapi.WorkerBusy},
		}},
		{"claim once", []step{
			{op: "acquire", state: fleetapi.WorkerBusy},
			{op: "claim", wantOK: true, state: fleetapi.WorkerBusy},
			{op: "claim", wantOK: false, state: fleetapi.WorkerBusy},
		}},
		{"drain idle", []step{
			{op: "drain", wantOK: true, state: fleetapi.WorkerDraining},
			{op: "drain", wantOK: false, state: fleetapi.WorkerDraining},
			{op: "acquire", callID: "a", wantErr: errDraining, state: fleetapi.WorkerDraining},
		}},
		{"drain busy keeps the call", []step{
			{op: "acquire", callID: "a", state: fleetapi.WorkerBusy},
			{op: "drain", wantOK: true, state: fleetapi.WorkerDraining},
			{op: "acquire", callID: "b", wantErr: errDraining, state: fleetapi.WorkerDraining},
			{op: "acquire", callID: "a", wantErr: errSameCall, state: fleetapi.WorkerDraining},
			{op: "release", wantOK: true, state: fleetapi.WorkerDraining},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSlot()
			var last uint64
			for i, st := range tt.steps {
				gen := st.gen
				if gen == 0 {
					gen = last
				}
				var ok bool
				switch st.op {
				case "acquire":
					g, err := s.acquire(st.callID)
					if !errors.Is(err, st.wantErr) {
						t.Fatalf("step %d: acquire err = %v; want %v", i, err, st.wantErr)
					}
					if err == nil {
						last = g
					}
					ok = st.wantOK
				case "claim":
					ok = s.claim(gen)
				case "release":
					ok = s.release(gen)
				case "drain":
					ok = s.drain()
				}
				if ok != st.wantOK {
					t.Fatalf("step %d: %s = %v; want %v", i, st.op, ok, st.wantOK)
				}
				if got, _ := s.state(); got != st.state {
					t.Fatalf("step %d: state = %s; want %s", i, got, st.state)
				}
			}
		})
	}
}

func TestSlotDrainedClosesWhenIdle(t *testing.T) {
	s := newSlot()
	gen, _ := s.acquire("a")
	s.drain()
	select {
	case <-s.drained:
		t.Fatal("drained while a call is running")
	default:
	}
	s.release(gen)
	select {
	case <-s.drained:
	case <-time.After(time.Second):
		t.Fatal("not drained after the call ended")
	}
}

func TestSlotUnclaimedAdmissionExpires(t *testing.T) {
	s := newSlot()
	gen, _ := s.acquire("")
	s.expireUnclaimed(gen, 10*time.Millisecond)
	deadline := time.Now().Add(2 * time.Second)
	for {
		if st, _ := s.state(); st == fleetapi.WorkerIdle {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("unclaimed admission still holds the slot")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if s.claim(gen) {
		t.Fatal("claimed an expired admission")
	}

	// A claimed admission does not expire.
	gen, _ = s.acquire("")
	s.expireUnclaimed(gen, 10*time.Millisecond)
	if !s.claim(gen) {
		t.Fatal("claim failed")
	}
	time.Sleep(50 * time.Millisecond) // longer than the expiry: nothing may happen
	if st, _ := s.state(); st != fleetapi.WorkerBusy {
		t.Fatalf("claimed call released by expiry: %s", st)
	}
}
