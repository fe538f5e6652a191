package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/agent/legtest"
	"github.com/voxplatform/vox/internal/testenv"
)

// tickEvery paces the tests' harness at twice real time (the detector
// counts audio time; the providers run on the wall clock and keep up).
const tickEvery = 10 * time.Millisecond

type (
	playSink     = legtest.Leg
	transferSink = legtest.TransferLeg
	harness      = legtest.Harness
	caller       = legtest.Step
)

var (
	markPlayed   = legtest.MarkPlayed
	agentTalking = legtest.AgentTalking
	hungUp       = legtest.Ended
)

// say returns espeak-ng's speech of text as 8 kHz telephone audio.
func say(t testing.TB, text string) []int16 {
	t.Helper()
	testenv.Require(t, "espeak-ng", "apt-get install espeak-ng")
	pcm, err := legtest.Say(text, "")
	if err != nil {
		t.Fatal(err)
	}
	return pcm
}

// run drives sess on leg until until holds.
func run(t *testing.T, sess agent.Session, leg *playSink, steps []caller, until func(*harness) bool) *harness {
	t.Helper()
	h := &harness{Session: sess, Leg: leg, Tick: tickEvery}
	if err := h.Run(context.Background(), steps, until, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	return h
}
