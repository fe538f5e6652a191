package vad

import (
	"math"
	"time"
)

// Config tunes a Detector; zero fields take the defaults in brackets.
type Config struct {
	// Threshold is the least RMS level (of 32767) that may be speech [500,
	// about -36 dBFS].
	Threshold float64
	// NoiseFactor: a frame is voiced only above this multiple of the
	// tracked noise floor [3].
	NoiseFactor float64
	// Onset is the voiced audio, within a window of twice as long, that
	// starts speech [60 ms]. It bounds how fast a barge-in is noticed.
	Onset time.Duration
	// EndOfTurn is the initial silence that ends the caller's turn [600 ms].
	EndOfTurn time.Duration
	// MinEndOfTurn and MaxEndOfTurn bound its adaptation [350 ms, 1200 ms].
	MinEndOfTurn, MaxEndOfTurn time.Duration
	// Fixed turns adaptation off.
	Fixed bool
	// MinSpeech is the least speech a turn needs; shorter is dropped as a
	// noise [120 ms].
	MinSpeech time.Duration
	// MaxTurn ends a turn that never pauses [15 s].
	MaxTurn time.Duration
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.Threshold <= 0 {
		c.Threshold = 500
	}
	if c.NoiseFactor <= 0 {
		c.NoiseFactor = 3
	}
	def(&c.Onset, 60*time.Millisecond)
	def(&c.EndOfTurn, 600*time.Millisecond)
	def(&c.MinEndOfTurn, 350*time.Millisecond)
	def(&c.MaxEndOfTurn, 1200*time.Millisecond)
	def(&c.MinSpeech, 120*time.Millisecond)
	def(&c.MaxTurn, 15*time.Second)
	c.EndOfTurn = min(max(c.EndOfTurn, c.MinEndOfTurn), c.MaxEndOfTurn)
	return c
}

// Event is what one frame changed.
type Event int

// Events. A turn is SpeechStart … EndOfTurn, or SpeechStart … Discard when
// it held too little speech.
const (
	None        Event = iota
	SpeechStart       // the caller started speaking (barge-in point)
	EndOfTurn         // the caller's turn ended
	Discard           // what started was a noise, not a turn
)

func (e Event) String() string {
	return [...]string{"none", "speech_start", "end_of_turn", "discard"}[e]
}

// Detector is the state machine: quiet → onset → speaking → quiet. It is
// not safe for concurrent use.
type Detector struct {
	cfg  Config
	rate int

	state    int // quiet, speaking
	window   []bool
	noise    float64 // tracked background RMS
	speech   int     // voiced samples in this turn
	total    int     // samples in this turn
	silence  int     // samples of silence since the last voiced frame
	eot      int     // current end-of-turn silence, samples
	gaps     []int   // pauses inside recent turns, samples
	lastTurn TurnStats
}

const (
	quiet = iota
	speaking
)

// TurnStats describes the turn an EndOfTurn closed.
type TurnStats struct {
	Speech    time.Duration // voiced audio
	Length    time.Duration // from speech start to the last voiced frame
	EndOfTurn time.Duration // the silence that ended it
}

// New returns a detector for audio at rate samples per second.
func New(cfg Config, rate int) *Detector {
	cfg = cfg.withDefaults()
	d := &Detector{cfg: cfg, rate: rate, noise: cfg.Threshold / cfg.NoiseFactor}
	d.eot = d.samples(cfg.EndOfTurn)
	return d
}

func (d *Detector) samples(t time.Duration) int { return int(t * time.Duration(d.rate) / time.Second) }
func (d *Detector) dur(n int) time.Duration {
	return time.Duration(n) * time.Second / time.Duration(d.rate)
}

// Speaking reports whether the caller is mid-turn.
func (d *Detector) Speaking() bool { return d.state == speaking }

// EndOfTurnSilence is the silence that now ends a turn.
func (d *Detector) EndOfTurnSilence() time.Duration { return d.dur(d.eot) }

// LastTurn describes the turn the last EndOfTurn closed.
func (d *Detector) LastTurn() TurnStats { return d.lastTurn }

// Voiced reports whether one frame looks like speech, and tracks the noise
// floor on frames that do not.
func (d *Detector) voiced(pcm []int16) bool {
	level := RMS(pcm)
	thr := max(d.cfg.Threshold, d.noise*d.cfg.NoiseFactor)
	v := level >= thr && zcr(pcm) < 0.35
	if !v {
		// Follow the noise down fast and up slowly.
		if level < d.noise {
			d.noise = 0.8*d.noise + 0.2*level
		} else {
			d.noise = 0.99*d.noise + 0.01*level
		}
	}
	return v
}

// Push feeds one frame (usually 20 ms) and returns what it changed.
func (d *Detector) Push(pcm []int16) Event {
	if len(pcm) == 0 {
		return None
	}
	v := d.voiced(pcm)
	switch d.state {
	case quiet:
		n := max(1, d.samples(d.cfg.Onset*2)/len(pcm))
		d.window = append(d.window, v)
		if len(d.window) > n {
			d.window = d.window[len(d.window)-n:]
		}
		voicedN := 0
		for _, w := range d.window {
			if w {
				voicedN++
			}
		}
		if voicedN*len(pcm) >= d.samples(d.cfg.Onset) {
			d.state = speaking
			d.window = d.window[:0]
			d.speech, d.total, d.silence = voicedN*len(pcm), voicedN*len(pcm), 0
			return SpeechStart
		}
		return None
	default:
		d.total += len(pcm)
		if v {
			if d.silence >= d.samples(100*time.Millisecond) {
				d.gaps = append(d.gaps, d.silence)
				if len(d.gaps) > 20 {
					d.gaps = d.gaps[1:]
				}
			}
			d.speech += len(pcm)
			d.silence = 0
		} else {
			d.silence += len(pcm)
		}
		if d.silence >= d.eot || d.total >= d.samples(d.cfg.MaxTurn) {
			return d.end()
		}
		return None
	}
}

// Reset forgets a turn in progress (the caller's audio is being ignored).
func (d *Detector) Reset() {
	d.state = quiet
	d.window = d.window[:0]
	d.speech, d.total, d.silence = 0, 0, 0
}

func (d *Detector) end() Event {
	enough := d.speech >= d.samples(d.cfg.MinSpeech)
	d.lastTurn = TurnStats{Speech: d.dur(d.speech), Length: d.dur(d.total - d.silence), EndOfTurn: d.dur(d.silence)}
	d.state = quiet
	d.speech, d.total, d.silence = 0, 0, 0
	if !enough {
		return Discard
	}
	d.adapt()
	return EndOfTurn
}

// adapt sets the end-of-turn silence from the caller's own pauses: well
// above the longest typical pause inside a sentence (the 90th percentile of
// recent gaps, times 1.5, plus 150 ms), within the configured bounds, moved
// a third of the way each turn so one odd turn does not swing it.
func (d *Detector) adapt() {
	if d.cfg.Fixed || len(d.gaps) == 0 {
		return
	}
	sorted := append([]int(nil), d.gaps...)
	for i := 1; i < len(sorted); i++ {
		for j := i; j > 0 && sorted[j] < sorted[j-1]; j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	p90 := sorted[min(len(sorted)-1, len(sorted)*9/10)]
	target := int(1.5*float64(p90)) + d.samples(150*time.Millisecond)
	target = min(max(target, d.samples(d.cfg.MinEndOfTurn)), d.samples(d.cfg.MaxEndOfTurn))
	d.eot += (target - d.eot) / 3
}

// RMS is the root-mean-square level of pcm.
func RMS(pcm []int16) float64 {
	if len(pcm) == 0 {
		return 0
	}
	var sum float64
	for _, s := range pcm {
		f := float64(s)
		sum += f * f
	}
	return math.Sqrt(sum / float64(len(pcm)))
}

// zcr is the fraction of adjacent samples that change sign: high for hiss,
// lower for voiced speech.
func zcr(pcm []int16) float64 {
	if len(pcm) < 2 {
		return 0
	}
	n := 0
	for i := 1; i < len(pcm); i++ {
		if (pcm[i] >= 0) != (pcm[i-1] >= 0) {
			n++
		}
	}
	return float64(n) / float64(len(pcm)-1)
}
