package leader

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/voxplatform/vox/store"
)

// fakeStore is a leader document in memory with the semantics of
// store.ClaimLeader, and a switch to make the database unreachable.
type fakeStore struct {
	doc  store.Leader
	down bool
}

func (f *fakeStore) ClaimLeader(_ context.Context, owner string, epoch int64, now time.Time, ttl time.Duration) (store.Leader, bool, error) {
	if f.down {
		return store.Leader{}, false, errors.New("unreachable")
	}
	switch {
	case epoch > 0 && f.doc.Owner == owner && f.doc.Epoch == epoch:
		f.doc.LeaseUntil = now.Add(ttl)
	case f.doc.Owner == "" || f.doc.LeaseUntil.Before(now):
		f.doc = store.Leader{Owner: owner, Epoch: f.doc.Epoch + 1, LeaseUntil: now.Add(ttl)}
	default:
		return f.doc, false, nil
	}
	return f.doc, true, nil
}

func (f *fakeStore) ReleaseLeader(_ context.Context, owner string, epoch int64) error {
	if f.doc.Owner == owner && f.doc.Epoch == epoch {
		f.doc.LeaseUntil = time.Time{}
	}
	return nil
}

func TestElector(t *testing.T) {
	st := &fakeStore{}
	now := time.Date(2026, 6, 3, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, b := New(st, "a", 6*time.Second, logger), New(st, "b", 6*time.Second, logger)
	a.now, b.now = clock, clock
	ctx := context.Background()

	if s, gained, err := a.Tick(ctx); err != nil || !gained || s.Role != Leader || s.Epoch != 1 {
		t.Fatalf("first claim: %+v %v %v", s, gained, err)
	}
	if s, gained, _ := b.Tick(ctx); gained || s.Role != Standby || s.Owner != "a" {
		t.Fatalf("second process: %+v %v, want standby naming a", s, gained)
	}
	now = now.Add(2 * time.Second)
	if s, gained, _ := a.Tick(ctx); gained || s.Role != Leader {
		t.Fatalf("renewal: %+v gained %v, want leader without a new epoch", s, gained)
	}
	if _, ok := a.Leading(); !ok {
		t.Fatal("a renewed leader does not lead")
	}
	// The database goes away: a keeps its role until its lease runs out,
	// but stops dialling once within a fifth of the lease of its end.
	st.down = true
	now = now.Add(4 * time.Second)
	if s, _, err := a.Tick(ctx); err == nil || s.Role != Leader {
		t.Fatalf("outage inside the lease: %+v %v", s, err)
	}
	if _, ok := a.Leading(); !ok {
		t.Fatal("stopped dialling 2 s before its lease's last fifth")
	}
	now = now.Add(1500 * time.Millisecond)
	if _, ok := a.Leading(); ok {
		t.Fatal("still dialling within the last fifth of an unrenewed lease")
	}
	now = now.Add(time.Second)
	if s, _, _ := a.Tick(ctx); s.Role != Standby {
		t.Fatalf("lease run out: %+v, want standby", s)
	}
	// b takes over with the next epoch; a, back, stays standby.
	st.down = false
	if s, gained, _ := b.Tick(ctx); !gained || s.Epoch != 2 {
		t.Fatalf("takeover: %+v %v, want epoch 2", s, gained)
	}
	if s, _, _ := a.Tick(ctx); s.Role != Standby || s.Owner != "b" {
		t.Fatalf("deposed leader: %+v, want standby naming b", s)
	}
	// Release hands over at once.
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if s, gained, _ := a.Tick(ctx); !gained || s.Epoch != 3 {
		t.Fatalf("claim after release: %+v %v", s, gained)
	}
}
