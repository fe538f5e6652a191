package agent

import (
	"math"
	"time"
)

// VADConfig tunes the energy-based voice activity detector.
type VADConfig struct {
	// Threshold is the RMS level (of 32767) above which a chunk is speech;
	// 0 means DefaultThreshold.
	Threshold float64
	// Pause is the silence that ends an utterance; 0 means 600 ms.
	Pause time.Duration
	// MinSpeech is the least speech that counts as an utterance, so clicks
	// and breaths are ignored; 0 means 100 ms.
	MinSpeech time.Duration
	// MaxUtterance cuts an utterance that never pauses; 0 means 10 s.
	MaxUtterance time.Duration
}

// DefaultThreshold is the speech RMS level used when none is configured:
// about -36 dBFS, well above line noise and well below a voice.
const DefaultThreshold = 500

func (c VADConfig) withDefaults() VADConfig {
	if c.Threshold <= 0 {
		c.Threshold = DefaultThreshold
	}
	if c.Pause <= 0 {
		c.Pause = 600 * time.Millisecond
	}
	if c.MinSpeech <= 0 {
		c.MinSpeech = 100 * time.Millisecond
	}
	if c.MaxUtterance <= 0 {
		c.MaxUtterance = 10 * time.Second
	}
	return c
}

// VAD splits a caller's audio into utterances: speech followed by a pause.
// It counts time in samples, not wall-clock time, so it behaves the same
// whatever pace the audio arrives at. The zero value is not usable; use
// NewVAD.
type VAD struct {
	cfg      VADConfig
	speaking bool
	buf      []int16 // the utterance so far, trailing silence included
	speech   int     // voiced samples in buf
	silence  int     // samples of silence since the last voiced chunk
}

// NewVAD returns a detector with cfg's zero fields set to their defaults.
func NewVAD(cfg VADConfig) *VAD { return &VAD{cfg: cfg.withDefaults()} }

// Push feeds one chunk of audio. began is true when this chunk starts
// speech; utterance is non-nil when this chunk completes one (trailing
// silence trimmed).
func (v *VAD) Push(pcm []int16) (began bool, utterance []int16) {
	if len(pcm) == 0 {
		return false, nil
	}
	voiced := RMS(pcm) >= v.cfg.Threshold
	switch {
	case voiced:
		began = !v.speaking
		v.speaking = true
		v.speech += len(pcm)
		v.silence = 0
		v.buf = append(v.buf, pcm...)
	case v.speaking:
		v.silence += len(pcm)
		v.buf = append(v.buf, pcm...)
	default:
		return false, nil
	}
	if v.silence >= samples(v.cfg.Pause) || len(v.buf) >= samples(v.cfg.MaxUtterance) {
		return began, v.finish()
	}
	return began, nil
}

func (v *VAD) finish() []int16 {
	utt := v.buf[:len(v.buf)-v.silence]
	enough := v.speech >= samples(v.cfg.MinSpeech)
	v.speaking, v.buf, v.speech, v.silence = false, nil, 0, 0
	if !enough {
		return nil
	}
	return utt
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
