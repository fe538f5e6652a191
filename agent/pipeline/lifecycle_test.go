package pipeline

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/voxplatform/vox/agent"
)

// settle waits until the goroutine count is back to base (or fails).
func settle(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left over (was %d):\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Odd input and odd orders of calls give errors or nothing, never a panic,
// and a closed session leaves no goroutine behind.
func TestSessionLifecycle(t *testing.T) {
	f := offline(t)
	ctx := context.Background()
	base := runtime.NumGoroutine()

	// Closed before it started.
	sess, err := f.NewSession(agent.Call{ID: "never"}, &playSink{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sess.Start(ctx); err != nil {
		t.Fatal(err)
	}
	settle(t, base)

	// A key pressed during the greeting stops it and is answered; empty and
	// oversized frames are taken in stride.
	leg := &playSink{}
	sess, err = f.NewSession(agent.Call{ID: "keys"}, leg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start(ctx); err != nil {
		t.Fatal(err)
	}
	h := &harness{Session: sess, Leg: leg, Tick: tickEvery}
	if err := h.Run(ctx, nil, agentTalking(300*time.Millisecond), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, frame := range [][]int16{nil, {}, make([]int16, agent.SampleRate)} {
		if err := sess.OnAudio(ctx, frame); err != nil {
			t.Fatalf("frame of %d samples: %v", len(frame), err)
		}
	}
	if err := sess.OnDTMF(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	if err := sess.OnMark(ctx, "no-such-mark"); err != nil {
		t.Fatal(err)
	}
	if err := h.Run(ctx, nil, markPlayed("reply-2"), 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sess.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if err := sess.OnAudio(ctx, make([]int16, agent.FrameSamples)); err == nil {
		t.Fatal("audio accepted after close")
	}
	rep := sess.(agent.Reporter).Report()
	var said []string
	for _, u := range rep.Transcript {
		said = append(said, u.Speaker+": "+u.Text)
	}
	got := strings.Join(said, " | ")
	if clears, _, _ := leg.State(); clears != 1 || !strings.Contains(got, "caller: [key 1]") || !strings.Contains(got, "agent: Certainly. What is your name?") || !rep.Transcript[0].Interrupted {
		t.Fatalf("clears %d, transcript %s", clears, got)
	}
	settle(t, base)
}
