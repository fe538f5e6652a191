package audio

import (
	"math"
)

// halfTaps is the number of kernel zero crossings on each side of a
// resampled point: enough for speech, cheap enough for many calls.
const halfTaps = 12

// tableRes is the kernel table's points per unit of kernel time.
const tableRes = 256

// kernel is a Blackman-windowed sinc over [0, halfTaps], sampled tableRes
// times per unit.
var kernel = func() []float32 {
	k := make([]float32, halfTaps*tableRes+2)
	for i := range k {
		x := float64(i) / tableRes
		if x > halfTaps {
			break
		}
		s := 1.0
		if x != 0 {
			s = math.Sin(math.Pi*x) / (math.Pi * x)
		}
		w := 0.42 + 0.5*math.Cos(math.Pi*x/halfTaps) + 0.08*math.Cos(2*math.Pi*x/halfTaps)
		k[i] = float32(s * w)
	}
	return k
}()

// Resampler converts a stream of 16-bit samples from one rate to another
// with a windowed-sinc filter, keeping the state between chunks so that a
// stream cut into chunks resamples exactly as in one piece. Its delay is
// halfTaps input samples. It is not safe for concurrent use.
type Resampler struct {
	in, out int
	step    float64   // input samples per output sample
	fc      float64   // cutoff as a fraction of the input Nyquist rate
	width   float64   // kernel half-width in input samples
	buf     []float32 // input not yet consumed, history included
	pos     float64   // next output's position in buf
}

// NewResampler returns a converter from rate in to rate out (Hz, > 0).
func NewResampler(in, out int) *Resampler {
	r := &Resampler{in: in, out: out, step: float64(in) / float64(out), fc: 1}
	if out < in {
		r.fc = float64(out) / float64(in) * 0.95
	} else {
		r.fc = 0.95
	}
	r.width = halfTaps / r.fc
	pad := int(math.Ceil(r.width))
	r.buf = make([]float32, pad)
	r.pos = float64(pad)
	return r
}

// Rates returns the input and output rates.
func (r *Resampler) Rates() (in, out int) { return r.in, r.out }

// Process resamples a chunk and returns the output it completes; the last
// few samples wait for the next chunk (or Flush).
func (r *Resampler) Process(pcm []int16) []int16 {
	if r.in == r.out {
		return append([]int16(nil), pcm...)
	}
	for _, s := range pcm {
		r.buf = append(r.buf, float32(s))
	}
	return r.drain(math.Inf(1))
}

// Flush returns what is still held, as if silence followed.
func (r *Resampler) Flush() []int16 {
	if r.in == r.out {
		return nil
	}
	pad := int(math.Ceil(r.width)) + 1
	end := float64(len(r.buf))
	r.buf = append(r.buf, make([]float32, pad)...)
	out := r.drain(end)
	r.buf = r.buf[:0]
	r.buf = append(r.buf, make([]float32, pad-1)...)
	r.pos = float64(pad - 1)
	return out
}

// drain computes every output whose kernel lies inside buf and whose
// position is before end.
func (r *Resampler) drain(end float64) []int16 {
	var out []int16
	w := r.width
	for r.pos+w < float64(len(r.buf)) && r.pos < end {
		lo := int(math.Ceil(r.pos - w))
		hi := int(math.Floor(r.pos + w))
		var acc float64
		for i := lo; i <= hi; i++ {
			x := math.Abs(float64(i)-r.pos) * r.fc
			if x >= halfTaps {
				continue
			}
			f := x * tableRes
			j := int(f)
			frac := float32(f - float64(j))
			k := kernel[j] + (kernel[j+1]-kernel[j])*frac
			acc += float64(r.buf[i] * k)
		}
		acc *= r.fc
		out = append(out, clip(acc))
		r.pos += r.step
	}
	// Keep only the history the next output needs.
	keep := int(math.Floor(r.pos - w))
	if keep > 0 {
		n := copy(r.buf, r.buf[keep:])
		r.buf = r.buf[:n]
		r.pos -= float64(keep)
	}
	return out
}

func clip(v float64) int16 {
	switch {
	case v > math.MaxInt16:
		return math.MaxInt16
	case v < math.MinInt16:
		return math.MinInt16
	}
	return int16(math.Round(v))
}

// Resample converts a whole clip from rate in to rate out.
func Resample(pcm []int16, in, out int) []int16 {
	r := NewResampler(in, out)
	return append(r.Process(pcm), r.Flush()...)
}
