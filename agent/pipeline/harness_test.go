package pipeline

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/internal/testenv"
	"github.com/voxplatform/vox/voice/audio"
)

// playSink is a leg that plays the agent's audio in real time: a queue of
// audio and marks, drained 20 ms at a time by the harness.
type playSink struct {
	mu       sync.Mutex
	queue    []item
	clears   int
	hangup   string
	transfer string
	ended    bool
}

type item struct {
	pcm  []int16
	mark string
}

var errEnded = errors.New("call ended")

func (p *playSink) Audio(pcm []int16) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return errEnded
	}
	p.queue = append(p.queue, item{pcm: append([]int16(nil), pcm...)})
	return nil
}

func (p *playSink) Mark(name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return errEnded
	}
	p.queue = append(p.queue, item{mark: name})
	return nil
}

func (p *playSink) Clear() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clears++
	// Marks queued come back at once, audio is dropped.
	var marks []item
	for _, it := range p.queue {
		if it.mark != "" {
			marks = append(marks, it)
		}
	}
	p.queue = marks
	return nil
}

func (p *playSink) Hangup(reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hangup, p.ended = reason, true
}

// transferSink is a playSink whose leg can transfer.
type transferSink struct{ playSink }

func (t *transferSink) Transfer(_ context.Context, to string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.transfer, t.ended = to, true
	return nil
}

// play takes up to n samples of queued audio and the marks reached.
func (p *playSink) play(n int) (pcm []int16, marks []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.queue) > 0 {
		it := &p.queue[0]
		if it.mark != "" {
			marks = append(marks, it.mark)
			p.queue = p.queue[1:]
			continue
		}
		if len(pcm) == n {
			break
		}
		k := min(n-len(pcm), len(it.pcm))
		pcm = append(pcm, it.pcm[:k]...)
		it.pcm = it.pcm[k:]
		if len(it.pcm) == 0 {
			p.queue = p.queue[1:]
		}
	}
	return pcm, marks
}

func (p *playSink) state() (clears int, hangup, transfer string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.clears, p.hangup, p.transfer
}

// say returns espeak-ng's speech of text as 8 kHz telephone audio.
func say(t testing.TB, text string) []int16 {
	t.Helper()
	bin := testenv.Require(t, "espeak-ng", "apt-get install espeak-ng")
	out, err := exec.Command(bin, "-v", "en-us", "-s", "150", "--stdout", text).Output()
	if err != nil {
		t.Fatalf("espeak-ng: %v", err)
	}
	pcm, rate, err := audio.ReadWAV(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	return audio.Resample(pcm, rate, agent.SampleRate)
}

// caller is one step of a scripted caller: once cond holds, say the words.
type caller struct {
	cond func(h *harness) bool
	say  []int16
}

// harness drives a Session as a worker does: every tick it
// sends 20 ms of the caller's audio and plays 20 ms of the agent's.
type harness struct {
	t    testing.TB
	sess agent.Session
	sink *playSink

	marks      map[string]bool
	played     int // agent samples played since the last mark
	heardAgent int // agent samples played in all
}

func (h *harness) run(ctx context.Context, steps []caller, until func(h *harness) bool, limit time.Duration) {
	h.t.Helper()
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	deadline := time.Now().Add(limit)
	var speaking []int16
	for !until(h) {
		if time.Now().After(deadline) {
			h.t.Fatalf("conversation did not finish in %v (marks %v)", limit, h.marks)
		}
		<-tick.C
		if len(speaking) == 0 && len(steps) > 0 && steps[0].cond(h) {
			speaking = steps[0].say
			steps = steps[1:]
		}
		frame := make([]int16, agent.FrameSamples)
		n := copy(frame, speaking)
		speaking = speaking[n:]
		if err := h.sess.OnAudio(ctx, frame); err != nil {
			h.t.Fatalf("OnAudio: %v", err)
		}
		pcm, marks := h.sink.play(agent.FrameSamples)
		h.played += len(pcm)
		h.heardAgent += len(pcm)
		for _, m := range marks {
			h.marks[m] = true
			h.played = 0
			if err := h.sess.OnMark(ctx, m); err != nil {
				h.t.Fatalf("OnMark: %v", err)
			}
		}
	}
}

func markPlayed(name string) func(*harness) bool {
	return func(h *harness) bool { return h.marks[name] }
}

// agentTalking holds once the agent has played d of audio since the last
// mark.
func agentTalking(d time.Duration) func(*harness) bool {
	return func(h *harness) bool { return h.played >= int(d*agent.SampleRate/time.Second) }
}

func hungUp(h *harness) bool { _, hangup, tr := h.sink.state(); return hangup != "" || tr != "" }

// tickEvery paces the harness: 20 ms of audio each way per tick, at twice
// real time (the detector counts audio time; the providers run on the wall
// clock and keep up easily).
const tickEvery = 10 * time.Millisecond
