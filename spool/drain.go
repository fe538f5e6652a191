package spool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Sink delivers one record. An error wrapping ErrPermanent means the record
// can never be delivered: it goes to failed/. Any other error keeps it.
type Sink func(ctx context.Context, key string, record []byte) error

// ErrPermanent marks a sink error that a retry would not change.
var ErrPermanent = errors.New("permanent")

// Permanent wraps err so the drainer gives the record up.
func Permanent(err error) error { return fmt.Errorf("%w: %w", ErrPermanent, err) }

// Drainer delivers a spool's records to a sink, oldest first.
type Drainer struct {
	Spool *Spool
	Sink  Sink
	// Interval is how often the spool is looked at without a Put in this
	// process, and how often the drain lock is tried while another
	// process holds it (default 1 s).
	Interval time.Duration
	// Backoff is the first wait after a failed delivery (default 500 ms),
	// doubled up to MaxBackoff (default 30 s) while deliveries fail.
	Backoff    time.Duration
	MaxBackoff time.Duration
	Logger     *slog.Logger
}

func (d *Drainer) defaults() {
	if d.Interval <= 0 {
		d.Interval = time.Second
	}
	if d.Backoff <= 0 {
		d.Backoff = 500 * time.Millisecond
	}
	if d.MaxBackoff <= 0 {
		d.MaxBackoff = 30 * time.Second
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
}

// Run drains until ctx ends: it takes the spool's drain lock (waiting while
// another process holds it), puts back what a dead drainer left claimed,
// then delivers every record as it arrives, backing off while the sink
// fails. It returns nil when ctx ends.
func (d *Drainer) Run(ctx context.Context) error {
	d.defaults()
	unlock, err := d.lock(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer unlock()
	if n, err := d.Spool.recoverClaims(); err != nil {
		return err
	} else if n > 0 {
		d.Logger.Info("put back records left claimed by a previous drainer", "records", n)
	}
	wait := time.Duration(0)
	backoff := d.Backoff
	for {
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
		n, err := d.drainOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			jitter := time.Duration(rand.Int64N(int64(backoff)/4 + 1))
			wait = backoff + jitter
			d.Logger.Warn("spool delivery failed; retrying", "dir", d.Spool.dir, "retry_in", wait.String(), "err", err)
			backoff = min(2*backoff, d.MaxBackoff)
			continue
		}
		backoff = d.Backoff
		if n > 0 {
			d.Logger.Debug("spool delivered", "dir", d.Spool.dir, "records", n)
		}
		t := time.NewTimer(d.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-d.Spool.notify:
			t.Stop()
		case <-t.C:
		}
		wait = 0
	}
}

// drainOnce delivers every pending record; it stops at the first failure
// that is not permanent.
func (d *Drainer) drainOnce(ctx context.Context) (int, error) {
	keys, err := d.Spool.list(dirPending)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range keys {
		if ctx.Err() != nil {
			return n, nil
		}
		b, ok, err := d.Spool.claim(k)
		if err != nil {
			return n, err
		}
		if !ok {
			continue
		}
		serr := d.Sink(ctx, k, b)
		switch {
		case serr == nil:
			if err := d.Spool.done(k); err != nil {
				return n, err
			}
			n++
		case errors.Is(serr, ErrPermanent):
			d.Logger.Error("spool record refused for good; kept in failed/", "key", k, "err", serr)
			if err := d.Spool.fail(k); err != nil {
				return n, err
			}
		default:
			if err := d.Spool.release(k); err != nil {
				return n, errors.Join(serr, err)
			}
			return n, fmt.Errorf("deliver %s: %w", k, serr)
		}
	}
	return n, nil
}

// lock takes the exclusive drain lock, trying every Interval until ctx
// ends. The lock is held by an open file: it goes when the process dies.
func (d *Drainer) lock(ctx context.Context) (func(), error) {
	f, err := os.OpenFile(filepath.Join(d.Spool.dir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool lock: %w", err)
	}
	for logged := false; ; {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("spool lock: %w", err)
		}
		if !logged {
			d.Logger.Info("another process drains this spool; waiting for its lock", "dir", d.Spool.dir)
			logged = true
		}
		t := time.NewTimer(d.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
