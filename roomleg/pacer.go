package roomleg

import (
	"sync"
	"time"
)

// The pacer sends the agent's audio in real time, one 20 ms frame per
// tick (silence when the agent is quiet), so it knows what has been played:
// marks fire when the frames before them have gone out, and Clear drops
// what has not.

// maxCatchUp is how many late frames a tick sends at once; a longer stall
// is skipped rather than sent in a burst.
const maxCatchUp = 5

type mark struct {
	name string
	at   int64 // agent samples queued before the mark
}

type frameWriter interface {
	writeFrame(pcm []int16) error
}

// pacer feeds the local track. Its methods are safe for concurrent use.
type pacer struct {
	out    frameWriter
	tap    Tap
	onMark func(string)

	mu     sync.Mutex // guards every field below
	queue  []int16    // agent audio not yet sent
	sent   int64      // agent samples sent or cleared: the marks' clock
	played int64      // agent samples sent (silence padding not counted)
	marks  []mark
	start  time.Time // the first tick
	frames int64     // frame slots since start, sent or skipped
	first  time.Time // when the first agent audio went out
	frame  []int16   // scratch frame
}

func newPacer(out frameWriter, tap Tap, onMark func(string)) *pacer {
	return &pacer{out: out, tap: tap, onMark: onMark, frame: make([]int16, frameSamples)}
}

func (p *pacer) audio(pcm []int16) {
	p.mu.Lock()
	p.queue = append(p.queue, pcm...)
	p.mu.Unlock()
}

func (p *pacer) mark(name string) {
	p.mu.Lock()
	fire := len(p.queue) == 0
	if !fire {
		p.marks = append(p.marks, mark{name: name, at: p.sent + int64(len(p.queue))})
	}
	p.mu.Unlock()
	if fire {
		p.onMark(name)
	}
}

func (p *pacer) clear() {
	p.mu.Lock()
	p.sent += int64(len(p.queue)) // the marks' positions stay comparable
	p.queue = nil
	fired := p.marks
	p.marks = nil
	p.mu.Unlock()
	for _, m := range fired {
		p.onMark(m.name)
	}
}

// step sends the frames due at now and returns the marks they completed.
func (p *pacer) step(now time.Time) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.start.IsZero() {
		p.start = now
	}
	due := int64(now.Sub(p.start)/frameDur) + 1 - p.frames
	if due > maxCatchUp {
		p.frames += due - 1
		due = 1
	}
	var fired []string
	for ; due > 0; due-- {
		p.frames++
		n := copy(p.frame, p.queue)
		clear(p.frame[n:])
		if n > 0 {
			p.queue = p.queue[n:]
			p.sent += int64(n)
			p.played += int64(n)
			if p.first.IsZero() {
				p.first = now
			}
		}
		if err := p.out.writeFrame(p.frame); err == nil && p.tap != nil {
			p.tap.AgentAudio(append([]int16(nil), p.frame...))
		}
		for len(p.marks) > 0 && p.marks[0].at <= p.sent {
			fired = append(fired, p.marks[0].name)
			p.marks = p.marks[1:]
		}
	}
	return fired
}

func (p *pacer) run(done <-chan struct{}) {
	t := time.NewTicker(frameDur)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			for _, name := range p.step(now) {
				p.onMark(name)
			}
		}
	}
}

// stats returns the agent samples sent and when the first went.
func (p *pacer) stats() (int64, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.played, p.first
}
