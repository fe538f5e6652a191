package callslot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/voxplatform/vox/runtimeapi"
)

// CauseWorkerLost ends a call whose worker died in it (SIGKILL, out of
// memory, a crash): its record is closed by whoever finds it (Reap).
const CauseWorkerLost EndCause = runtimeapi.EndWorkerLost

// Journal is a CallRecorder that keeps each call in progress on disk, in
// a directory the host's workers share, while handing every record on to
// the next recorder. A call's entry is its last record (CALL.json) and a
// lock file (CALL.lock) its worker holds locked (flock) for as long as the
// call runs: the kernel drops the lock when the worker dies, however it
// dies. Reap finds the entries of dead workers and ends their calls, so a
// worker killed mid-call still leaves a final record.
//
// The entry survives the death of its process, not the loss of the host
// (the next recorder's spool is durable; the entry is not synced).
type Journal struct {
	dir  string
	next CallRecorder

	mu    sync.Mutex          // guards locks
	locks map[string]*os.File // call id → its lock file, held locked
}

// NewJournal opens (creating) the journal in dir; next receives every
// record.
func NewJournal(dir string, next CallRecorder) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("call journal %s: %w", dir, err)
	}
	return &Journal{dir: dir, next: next, locks: map[string]*os.File{}}, nil
}

func (j *Journal) path(callID, ext string) string { return filepath.Join(j.dir, callID+ext) }

// RecordCall implements CallRecorder: the entry first (taking the call's
// lock with its first record), then the next recorder; the entry goes once
// the next recorder has the final record.
func (j *Journal) RecordCall(ctx context.Context, rec CallRecord) error {
	if !runtimeapi.ValidCallID(rec.CallID) {
		return fmt.Errorf("call id %q cannot name a journal entry", rec.CallID)
	}
	jerr := j.write(rec)
	err := j.next.RecordCall(ctx, rec)
	if !rec.Ended.IsZero() {
		if err == nil {
			jerr = errors.Join(jerr, j.remove(rec.CallID))
		} else {
			// Unlocked, the entry's final record is recorded again by the
			// next Reap.
			j.unlock(rec.CallID)
		}
	}
	if jerr != nil {
		jerr = fmt.Errorf("call journal: %w", jerr)
	}
	return errors.Join(err, jerr)
}

// write stores rec as the call's entry, locking the call first.
func (j *Journal) write(rec CallRecord) error {
	if err := j.lock(rec.CallID); err != nil {
		return err
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(j.dir, rec.CallID+".*.tmp")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), j.path(rec.CallID, ".json"))
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// lock takes the call's lock unless this process holds it already.
func (j *Journal) lock(callID string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := j.locks[callID]; ok {
		return nil
	}
	f, err := os.OpenFile(j.path(callID, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	j.locks[callID] = f
	return nil
}

// unlock releases the call's lock, leaving its entry.
func (j *Journal) unlock(callID string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if f, ok := j.locks[callID]; ok {
		f.Close()
		delete(j.locks, callID)
	}
}

// remove deletes the call's entry, then its lock, then lets the lock go.
func (j *Journal) remove(callID string) error {
	err := os.Remove(j.path(callID, ".json"))
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	if rerr := os.Remove(j.path(callID, ".lock")); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	j.unlock(callID)
	return err
}

// Reap ends the calls whose worker died: every entry whose lock nobody
// holds gets its final record (its own, when the worker died after
// writing it; otherwise ended now with CauseWorkerLost), handed to the
// next recorder, and is removed. It returns the calls it ended.
func (j *Journal) Reap(ctx context.Context) ([]CallRecord, error) {
	ents, err := os.ReadDir(j.dir)
	if err != nil {
		return nil, fmt.Errorf("call journal: %w", err)
	}
	var out []CallRecord
	var errs []error
	for _, e := range ents {
		callID, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !runtimeapi.ValidCallID(callID) {
			continue
		}
		rec, found, err := j.reapOne(ctx, callID)
		if err != nil {
			errs = append(errs, err)
		} else if found {
			out = append(out, rec)
		}
	}
	return out, errors.Join(errs...)
}

// reapOne ends callID's call if its worker is gone.
func (j *Journal) reapOne(ctx context.Context, callID string) (CallRecord, bool, error) {
	j.mu.Lock()
	_, mine := j.locks[callID]
	j.mu.Unlock()
	if mine {
		return CallRecord{}, false, nil // a call of this process
	}
	f, err := os.OpenFile(j.path(callID, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return CallRecord{}, false, err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return CallRecord{}, false, nil // its worker is alive
		}
		return CallRecord{}, false, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	b, err := os.ReadFile(j.path(callID, ".json"))
	if errors.Is(err, fs.ErrNotExist) {
		// The worker finished the call meanwhile.
		os.Remove(f.Name())
		return CallRecord{}, false, nil
	}
	var rec CallRecord
	if err == nil {
		err = json.Unmarshal(b, &rec)
	}
	if err != nil {
		return CallRecord{}, false, fmt.Errorf("call journal entry %s: %w", callID, err)
	}
	if rec.Ended.IsZero() {
		rec.Ended = time.Now()
		rec.Cause, rec.Code = CauseWorkerLost, 0
		rec.Outcome, rec.Reason = rec.Cause.Outcome(), "the worker died during the call"
	}
	if err := j.next.RecordCall(ctx, rec); err != nil {
		return CallRecord{}, false, fmt.Errorf("record call %s of a dead worker: %w", callID, err)
	}
	err = os.Remove(j.path(callID, ".json"))
	if rerr := os.Remove(f.Name()); err == nil {
		err = rerr
	}
	return rec, true, err
}
