package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/voxplatform/vox/twilio"
)

// How long a call's steps may take before the call counts as refused or cut.
const (
	setupTimeout = 10 * time.Second // handshake and greeting
	echoTimeout  = 5 * time.Second  // from the end of the caller's pause to the first echoed audio
	endTimeout   = 5 * time.Second  // from '#' to the close
)

// attempt is how one call attempt through nginx went.
type attempt struct {
	// status is the HTTP status of a refused handshake (0 when upgraded or
	// when no response came).
	status int
	// closeCode is set when the stream was upgraded and then closed before
	// the greeting.
	closeCode int
	// err is a failure without an HTTP response or close code.
	err error
	// cl is the live call when it was set up (greeting heard).
	cl *twilio.Client
}

// ok reports whether the call was set up.
func (a attempt) ok() bool { return a.cl != nil }

// how says in a few words how a refused attempt was refused.
func (a attempt) how() string {
	switch {
	case a.ok():
		return "set up"
	case a.status != 0:
		return fmt.Sprintf("HTTP %d", a.status)
	case a.closeCode != 0:
		return fmt.Sprintf("upgraded, then closed %d", a.closeCode)
	default:
		return "connection failed"
	}
}

// dial places one call through nginx and waits for the greeting.
func dial(ctx context.Context, sys system) attempt {
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	cl, resp, err := twilio.Dial(ctx, twilio.ClientConfig{URL: sys.callURL(), Token: sys.token(), HandshakeTimeout: setupTimeout})
	if err != nil {
		if resp != nil {
			resp.Body.Close()
			return attempt{status: resp.StatusCode, err: err}
		}
		return attempt{err: err}
	}
	if err := cl.Start(); err != nil {
		// A busy worker may have closed the stream already: say with what.
		select {
		case <-cl.Done():
		case <-time.After(time.Second):
		}
		cl.Close()
		if st := cl.Stats(); st.CloseCode != 0 {
			return attempt{closeCode: st.CloseCode}
		}
		return attempt{err: fmt.Errorf("start: %w", err)}
	}
	st, err := cl.Wait(ctx, func(s twilio.Stats) bool { return s.Closed || slices.Contains(s.Marks, "greeting") })
	if st.Closed || err != nil {
		cl.Close()
		if st.Closed && st.CloseCode != 0 {
			return attempt{closeCode: st.CloseCode}
		}
		return attempt{err: fmt.Errorf("no greeting: closed %v, %v", st.Closed, err)}
	}
	return attempt{cl: cl}
}

// hangUp presses '#' and waits for the worker to close the stream.
func hangUp(cl *twilio.Client) {
	if err := cl.SendDTMF("#"); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), endTimeout)
		_, _ = cl.Wait(ctx, func(s twilio.Stats) bool { return s.Closed })
		cancel()
	}
	cl.Close()
}

// errCut says how a call in progress was cut.
type errCut struct{ why string }

func (e *errCut) Error() string { return "cut: " + e.why }

// converse speaks once (1 s of tone, then a pause long enough to end the
// utterance), waits for the echo and for it to play out. It returns an
// *errCut if the stream closes or the echo does not come.
func converse(ctx context.Context, cl *twilio.Client) error {
	before := cl.Stats().VoicedBytes
	audio := append(twilio.Tone(time.Second, 440, 8000), twilio.Silence(800*time.Millisecond)...)
	if err := cl.SendAudio(ctx, audio, twilio.RealTime); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &errCut{why: "the connection broke while the caller spoke"}
	}
	wctx, cancel := context.WithTimeout(ctx, echoTimeout)
	defer cancel()
	st, err := cl.Wait(wctx, func(s twilio.Stats) bool { return s.Closed || s.VoicedBytes > before })
	switch {
	case st.Closed:
		return &errCut{why: closeWhy(st)}
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return &errCut{why: "no echo within " + echoTimeout.String()}
	}
	// Let the echo play out before speaking again, as a caller would.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-cl.Done():
		return &errCut{why: closeWhy(cl.Stats())}
	case <-time.After(time.Second):
	}
	return nil
}

// talker keeps one call talking until told to stop, then hangs up.
type talker struct {
	cl   *twilio.Client
	stop chan struct{} // closed to end the call
	done chan struct{} // closed when the call has ended

	mu     sync.Mutex // guards cycles and cut
	cycles int        // completed speak/echo exchanges
	cut    *errCut    // set when the call was cut
}

// talk starts the exchanges on a call that has been set up.
func talk(cl *twilio.Client) *talker {
	t := &talker{cl: cl, stop: make(chan struct{}), done: make(chan struct{})}
	go t.run()
	return t
}

func (t *talker) run() {
	defer close(t.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-t.stop:
		case <-t.done:
		}
		cancel()
	}()
	for ctx.Err() == nil {
		err := converse(ctx, t.cl)
		var cut *errCut
		switch {
		case errors.As(err, &cut):
			t.mu.Lock()
			t.cut = cut
			t.mu.Unlock()
			t.cl.Close()
			return
		case err != nil:
			// Stopped mid-exchange: hang up below.
		default:
			t.mu.Lock()
			t.cycles++
			t.mu.Unlock()
		}
	}
	hangUp(t.cl)
}

// state returns the exchanges completed so far and the cut, if any.
func (t *talker) state() (int, *errCut) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cycles, t.cut
}

// end stops the exchanges, hangs up and waits.
func (t *talker) end() {
	close(t.stop)
	<-t.done
}

// closeWhy says how a stream ended that the caller did not end.
func closeWhy(st twilio.Stats) string {
	if st.CloseCode != 0 && st.CloseCode != 1006 { // 1006: no close frame came
		return fmt.Sprintf("closed with code %d", st.CloseCode)
	}
	return "the connection dropped (no close frame)"
}
