package leader

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/voxplatform/vox/store"
)

// Role is the Elector's state.
type Role int

const (
	// Standby: another process leads, or leadership is not confirmed.
	Standby Role = iota
	// Leader: this process may dial until its lease ends.
	Leader
)

// String names the role for /health and logs.
func (r Role) String() string {
	if r == Leader {
		return "leader"
	}
	return "standby"
}

// Store is what the Elector needs of the database; *store.Store has it.
type Store interface {
	ClaimLeader(ctx context.Context, owner string, epoch int64, now time.Time, ttl time.Duration) (store.Leader, bool, error)
	ReleaseLeader(ctx context.Context, owner string, epoch int64) error
}

// Status is a snapshot of the Elector.
type Status struct {
	Role  Role
	Epoch int64
	// Owner is the current leader's name as last read ("" when unknown).
	Owner string
	// Until is when this process's lease ends (leader only).
	Until time.Time
}

// Elector holds or waits for leadership.
type Elector struct {
	st     Store
	owner  string
	ttl    time.Duration
	logger *slog.Logger
	now    func() time.Time

	mu     sync.Mutex // guards status
	status Status
}

// New returns an Elector for owner (a name unique to the process) with
// leases of ttl.
func New(st Store, owner string, ttl time.Duration, logger *slog.Logger) *Elector {
	return &Elector{st: st, owner: owner, ttl: ttl, logger: logger.With("component", "leader"), now: time.Now}
}

// Owner is this process's name.
func (e *Elector) Owner() string { return e.owner }

// Status returns the current state.
func (e *Elector) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.status
}

// Leading reports whether this process may dial now: it leads and its
// lease, as of the last renewal, has not run out (with a margin of a fifth
// of the lease for clock and write delays).
func (e *Elector) Leading() (epoch int64, ok bool) {
	s := e.Status()
	if s.Role != Leader || !e.now().Before(s.Until.Add(-e.ttl/5)) {
		return 0, false
	}
	return s.Epoch, true
}

// Tick renews or claims leadership. gained reports that this tick made the
// process leader with a new epoch: the caller fences older writers before
// dialling. An error leaves the process standby only once its lease has run
// out; until then it keeps its role but Leading reports the margin.
func (e *Elector) Tick(ctx context.Context) (s Status, gained bool, err error) {
	e.mu.Lock()
	prev := e.status
	e.mu.Unlock()
	var epoch int64
	if prev.Role == Leader {
		epoch = prev.Epoch
	}
	start := e.now()
	doc, ok, err := e.st.ClaimLeader(ctx, e.owner, epoch, start, e.ttl)
	next := prev
	switch {
	case err != nil:
		if prev.Role == Leader && !start.Before(prev.Until) {
			next = Status{Role: Standby}
		}
	case ok:
		next = Status{Role: Leader, Epoch: doc.Epoch, Owner: e.owner, Until: start.Add(e.ttl)}
		gained = prev.Role != Leader || prev.Epoch != doc.Epoch
	default:
		next = Status{Role: Standby, Epoch: doc.Epoch, Owner: doc.Owner}
	}
	e.mu.Lock()
	e.status = next
	e.mu.Unlock()
	switch {
	case gained:
		e.logger.Info("leading", "epoch", next.Epoch, "owner", e.owner)
	case prev.Role == Leader && next.Role != Leader:
		e.logger.Warn("lost leadership", "epoch", prev.Epoch, "leader", next.Owner, "err", err)
	}
	return next, gained, err
}

// Release gives leadership up at once (on shutdown), so a standby takes
// over at its next tick.
func (e *Elector) Release(ctx context.Context) error {
	e.mu.Lock()
	s := e.status
	e.status = Status{Role: Standby}
	e.mu.Unlock()
	if s.Role != Leader {
		return nil
	}
	err := e.st.ReleaseLeader(ctx, e.owner, s.Epoch)
	if err == nil {
		e.logger.Info("released leadership", "epoch", s.Epoch)
	}
	return err
}

// ErrNotLeader is returned by work refused because this process does not
// lead.
var ErrNotLeader = errors.New("not the leader")
