package roomleg

import (
	"sync"
	"time"

	"github.com/livekit/media-sdk"
)

// Pacing of the agent's audio. The SDK's track plays what it is given in
// 10 ms frames and pads with silence; the pacer hands it audio just ahead of
// real time (lead), so that it knows what has been played, fires marks at the
// right moment and can take back what has not been played (Clear).
const (
	tick = 10 * time.Millisecond
	lead = 40 * Rate / 1000 // samples handed over ahead of the play position
)

type mark struct {
	name string
	at   int64 // absolute sample position; played once the play position passes it
}

type sampleWriter interface {
	WriteSample(media.PCM16Sample) error
	ClearQueue()
}

// pacer feeds the local track. Its methods are safe for concurrent use.
type pacer struct {
	out    sampleWriter
	tap    Tap
	onMark func(string)

	mu        sync.Mutex // guards every field below
	queue     []int16    // agent audio not yet handed to the track
	handed    int64      // samples handed to the track, ever
	playBase  int64      // play position at playStart
	playStart time.Time  // when the current burst began playing
	marks     []mark
	first     time.Time // first audio handed over
}

func newPacer(out sampleWriter, tap Tap, onMark func(string)) *pacer {
	return &pacer{out: out, tap: tap, onMark: onMark}
}

// played is the estimated play position at now.
func (p *pacer) played(now time.Time) int64 {
	if p.playStart.IsZero() {
		return p.handed
	}
	pos := p.playBase + int64(now.Sub(p.playStart))*Rate/int64(time.Second)
	return min(pos, p.handed)
}

func (p *pacer) audio(pcm []int16) {
	p.mu.Lock()
	p.queue = append(p.queue, pcm...)
	p.mu.Unlock()
}

func (p *pacer) mark(name string) {
	p.mu.Lock()
	at := p.handed + int64(len(p.queue))
	fire := len(p.queue) == 0 && p.played(time.Now()) >= at
	if !fire {
		p.marks = append(p.marks, mark{name: name, at: at})
	}
	p.mu.Unlock()
	if fire {
		p.onMark(name)
	}
}

func (p *pacer) clear() {
	p.mu.Lock()
	p.queue = nil
	p.out.ClearQueue()
	p.handed = p.played(time.Now())
	p.playStart = time.Time{}
	fired := p.marks
	p.marks = nil
	p.mu.Unlock()
	for _, m := range fired {
		p.onMark(m.name)
	}
}

// step hands over what is due at now and returns the marks played.
func (p *pacer) step(now time.Time) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	played := p.played(now)
	if played >= p.handed {
		// The track has played everything: the next audio starts a burst.
		p.playStart = time.Time{}
		if len(p.queue) > 0 {
			p.playStart, p.playBase = now, p.handed
		}
	}
	if n := min(played+lead-p.handed, int64(len(p.queue))); n > 0 {
		chunk := p.queue[:n:n]
		p.queue = p.queue[n:]
		if len(p.queue) == 0 {
			p.queue = nil
		}
		if p.first.IsZero() {
			p.first = now
		}
		if err := p.out.WriteSample(chunk); err == nil && p.tap != nil {
			p.tap.AgentAudio(chunk)
		}
		p.handed += n
	}
	var fired []string
	for len(p.marks) > 0 && p.marks[0].at <= played {
		fired = append(fired, p.marks[0].name)
		p.marks = p.marks[1:]
	}
	return fired
}

func (p *pacer) run(done <-chan struct{}) {
	t := time.NewTicker(tick)
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

// stats returns the samples handed to the room and when the first went.
func (p *pacer) stats() (int64, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.handed, p.first
}
