// Package legtest drives an agent.Session the way a worker does, for tests
// and benchmarks: Leg is a call leg that plays the agent's audio in real
// time (a queue of audio and marks, cleared on barge-in), and Harness feeds
// the session a scripted caller's audio 20 ms at a time while playing the
// agent's, reporting marks as they are reached.
//
// legtest imports agent and voice/audio only; production code never
// imports it.
package legtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"time"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/voice/audio"
)

// Leg is an agent.Sink that plays audio as a carrier would.
type Leg struct {
	mu       sync.Mutex // guards the fields below
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

// ErrEnded is returned by a Leg after the call ended.
var ErrEnded = errors.New("call ended")

// Audio implements agent.Sink.
func (p *Leg) Audio(pcm []int16) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return ErrEnded
	}
	p.queue = append(p.queue, item{pcm: append([]int16(nil), pcm...)})
	return nil
}

// Mark implements agent.Sink.
func (p *Leg) Mark(name string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return ErrEnded
	}
	p.queue = append(p.queue, item{mark: name})
	return nil
}

// Clear implements agent.Sink: audio queued is dropped, marks queued come
// back at once.
func (p *Leg) Clear() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clears++
	var marks []item
	for _, it := range p.queue {
		if it.mark != "" {
			marks = append(marks, it)
		}
	}
	p.queue = marks
	return nil
}

// Hangup implements agent.Sink.
func (p *Leg) Hangup(reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hangup, p.ended = reason, true
}

// TransferLeg is a Leg that can transfer (agent.Transferer).
type TransferLeg struct{ Leg }

// Transfer implements agent.Transferer.
func (t *TransferLeg) Transfer(_ context.Context, to string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.transfer, t.ended = to, true
	return nil
}

// Play takes up to n samples of queued audio and the marks reached.
func (p *Leg) Play(n int) (pcm []int16, marks []string) {
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

// State reports the clears, the hangup reason and the transfer target.
func (p *Leg) State() (clears int, hangup, transfer string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.clears, p.hangup, p.transfer
}

// Say returns espeak-ng's speech of text as 8 kHz telephone audio.
func Say(text, voice string) ([]int16, error) {
	if voice == "" {
		voice = "en-us"
	}
	out, err := exec.Command("espeak-ng", "-v", voice, "-s", "150", "--stdout", text).Output()
	if err != nil {
		return nil, fmt.Errorf("espeak-ng: %w (apt-get install espeak-ng)", err)
	}
	pcm, rate, err := audio.ReadWAV(bytes.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("espeak-ng output: %w", err)
	}
	return audio.Resample(pcm, rate, agent.SampleRate), nil
}

// Step is one step of a scripted caller: once When holds, say Audio.
type Step struct {
	When  func(h *Harness) bool
	Audio []int16
}

// Harness drives a Session as a worker does: every tick it sends 20 ms of
// the caller's audio and plays 20 ms of the agent's.
type Harness struct {
	Session agent.Session
	Leg     *Leg
	// Tick paces the harness [20 ms: real time].
	Tick time.Duration

	Marks map[string]bool
	// Played is the agent audio played since the last mark, in samples.
	Played int
	// OnFrame, when set, is called with each tick's caller frame and the
	// agent audio played that tick.
	OnFrame func(caller, agent []int16)
}

// Run plays the conversation until until holds, the limit passes or ctx
// ends.
func (h *Harness) Run(ctx context.Context, steps []Step, until func(h *Harness) bool, limit time.Duration) error {
	if h.Marks == nil {
		h.Marks = map[string]bool{}
	}
	if h.Tick <= 0 {
		h.Tick = 20 * time.Millisecond
	}
	tick := time.NewTicker(h.Tick)
	defer tick.Stop()
	deadline := time.Now().Add(limit)
	var speaking []int16
	for !until(h) {
		if time.Now().After(deadline) {
			return fmt.Errorf("conversation did not finish in %v (marks %v)", limit, h.Marks)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
		if len(speaking) == 0 && len(steps) > 0 && steps[0].When(h) {
			speaking = steps[0].Audio
			steps = steps[1:]
		}
		frame := make([]int16, agent.FrameSamples)
		n := copy(frame, speaking)
		speaking = speaking[n:]
		if err := h.Session.OnAudio(ctx, frame); err != nil {
			return fmt.Errorf("OnAudio: %w", err)
		}
		pcm, marks := h.Leg.Play(agent.FrameSamples)
		h.Played += len(pcm)
		if h.OnFrame != nil {
			h.OnFrame(frame, pcm)
		}
		for _, m := range marks {
			h.Marks[m] = true
			h.Played = 0
			if err := h.Session.OnMark(ctx, m); err != nil {
				return fmt.Errorf("OnMark: %w", err)
			}
		}
	}
	return nil
}

// MarkPlayed holds once the named mark has played.
func MarkPlayed(name string) func(*Harness) bool {
	return func(h *Harness) bool { return h.Marks[name] }
}

// AgentTalking holds once the agent has played d of audio since the last
// mark.
func AgentTalking(d time.Duration) func(*Harness) bool {
	return func(h *Harness) bool { return h.Played >= int(d*agent.SampleRate/time.Second) }
}

// Ended holds once the agent hung up or transferred.
func Ended(h *Harness) bool { _, hangup, tr := h.Leg.State(); return hangup != "" || tr != "" }
