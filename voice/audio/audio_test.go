package audio

import (
	"bytes"
	"math"
	"testing"
)

func sine(hz float64, rate, n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(10000 * math.Sin(2*math.Pi*hz*float64(i)/float64(rate)))
	}
	return out
}

func rms(p []int16) float64 {
	var s float64
	for _, v := range p {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(p)))
}

func TestResample(t *testing.T) {
	tests := []struct {
		name    string
		in, out int
		hz      float64
		wantRMS float64 // of the steady middle
	}{
		{"8k to 16k keeps a 1 kHz tone", 8000, 16000, 1000, 7071},
		{"16k to 8k keeps a 1 kHz tone", 16000, 8000, 1000, 7071},
		{"22050 to 8k keeps a 500 Hz tone", 22050, 8000, 500, 7071},
		{"24k to 8k removes a 6 kHz tone", 24000, 8000, 6000, 0},
		{"48k to 8k removes a 5 kHz tone", 48000, 8000, 5000, 0},
		{"8k to 48k keeps a 300 Hz tone", 8000, 48000, 300, 7071},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := sine(tt.hz, tt.in, tt.in) // one second
			// In uneven chunks: the stream must not care.
			r := NewResampler(tt.in, tt.out)
			var out []int16
			for i := 0; i < len(in); i += 97 {
				out = append(out, r.Process(in[i:min(i+97, len(in))])...)
			}
			out = append(out, r.Flush()...)
			if d := len(out) - tt.out; d < -2 || d > 2 {
				t.Fatalf("%d samples out; want about %d", len(out), tt.out)
			}
			if whole := Resample(in, tt.in, tt.out); !equal(whole, out) {
				t.Fatal("chunked output differs from whole-clip output")
			}
			mid := out[len(out)/4 : 3*len(out)/4]
			if got := rms(mid); math.Abs(got-tt.wantRMS) > 0.03*10000 {
				t.Fatalf("RMS %.0f; want %.0f", got, tt.wantRMS)
			}
		})
	}
}

func equal(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if d := int(a[i]) - int(b[i]); d > 1 || d < -1 {
			return false
		}
	}
	return true
}

func TestWAVRoundTrip(t *testing.T) {
	pcm := sine(440, 8000, 1234)
	got, rate, err := ReadWAV(bytes.NewReader(WAV(pcm, 8000)))
	if err != nil || rate != 8000 || !equal(got, pcm) {
		t.Fatalf("round trip: %v, rate %d, %d samples", err, rate, len(got))
	}
	if _, _, err := ReadWAV(bytes.NewReader([]byte("RIFF....WAVE"))); err == nil {
		t.Fatal("truncated WAV read without error")
	}
	if _, _, err := ReadWAV(bytes.NewReader([]byte("not a wav at all"))); err == nil {
		t.Fatal("garbage read as WAV")
	}
}
