package callslot

import (
	"errors"
	"sync"
	"time"

	"github.com/voxplatform/vox/fleetapi"
)

// Admission refusals.
var (
	errBusy     = errors.New("busy with another call")
	errDraining = errors.New("draining")
	errSameCall = errors.New("this call is already running here")
)

// slot is the worker's one call slot: idle → busy → idle, and draining once
// the worker is stopping. Each admission gets a generation number; release
// and claim act only on the generation they were given, so a late release
// from an ended call can never free a newer one.
type slot struct {
	mu       sync.Mutex // guards every field below
	busy     bool
	draining bool
	callID   string
	gen      uint64
	claimed  bool          // the admitted call has begun (a WebSocket upgrade completed)
	drained  chan struct{} // closed once draining and idle
	timer    *time.Timer   // releases an unclaimed admission
}

func newSlot() *slot { return &slot{drained: make(chan struct{})} }

// acquire admits a call. callID may be "" when it is not known yet. When
// busy with the same non-empty callID it returns errSameCall.
func (s *slot) acquire(callID string) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.busy && callID != "" && callID == s.callID:
		return 0, errSameCall
	case s.draining:
		return 0, errDraining
	case s.busy:
		return 0, errBusy
	}
	s.busy, s.callID, s.claimed = true, callID, false
	s.gen++
	return s.gen, nil
}

// check reports what acquire(callID) would answer, without admitting: nil
// when the slot is free. Routes that cannot run a call yet use it, so a busy
// worker still says 429 (and nginx tries the next one) while a free worker
// says why it cannot take the call.
func (s *slot) check(callID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.busy && callID != "" && callID == s.callID:
		return errSameCall
	case s.draining:
		return errDraining
	case s.busy:
		return errBusy
	}
	return nil
}

// expireUnclaimed releases admission gen after d unless claimed by then, so
// a handshake that never completes cannot hold the slot.
func (s *slot) expireUnclaimed(gen uint64, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		return
	}
	s.timer = time.AfterFunc(d, func() { s.releaseUnclaimed(gen) })
}

// claim marks admission gen as a running call. It fails when gen has been
// released (expired) in the meantime.
func (s *slot) claim(gen uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.busy || s.gen != gen || s.claimed {
		return false
	}
	s.claimed = true
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	return true
}

// setCallID records the call's identifier once known.
func (s *slot) setCallID(gen uint64, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy && s.gen == gen {
		s.callID = id
	}
}

// releaseUnclaimed frees admission gen if it never began.
func (s *slot) releaseUnclaimed(gen uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.claimed {
		return false
	}
	return s.releaseLocked(gen)
}

// release frees admission gen; it reports whether it did.
func (s *slot) release(gen uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.releaseLocked(gen)
}

func (s *slot) releaseLocked(gen uint64) bool {
	if !s.busy || s.gen != gen {
		return false
	}
	s.busy, s.callID, s.claimed = false, "", false
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	if s.draining {
		close(s.drained)
	}
	return true
}

// drain stops admissions; it reports whether this call started the drain.
func (s *slot) drain() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return false
	}
	s.draining = true
	if !s.busy {
		close(s.drained)
	}
	return true
}

// state reports the slot's state and call.
func (s *slot) state() (state fleetapi.WorkerState, callID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.draining:
		return fleetapi.WorkerDraining, s.callID
	case s.busy:
		return fleetapi.WorkerBusy, s.callID
	}
	return fleetapi.WorkerIdle, ""
}
