package twilio

import (
	"math/rand/v2"
	"testing"
)

func TestMulawKnownValues(t *testing.T) {
	tests := []struct {
		pcm   int16
		mulaw byte
	}{
		{0, 0xFF},
		{-1, 0x7F},
		{1, 0xFF},
		{8, 0xFE},
		{-8, 0x7E},
		{32767, 0x80},
		{-32768, 0x00},
		{32124, 0x80},
		{1000, 0xCE},
		{-1000, 0x4E},
	}
	for _, tt := range tests {
		if got := MulawEncode(tt.pcm); got != tt.mulaw {
			t.Errorf("MulawEncode(%d) = %#x; want %#x", tt.pcm, got, tt.mulaw)
		}
	}
	decoded := []struct {
		mulaw byte
		pcm   int16
	}{
		{0xFF, 0},
		{0x7F, 0},
		{0x80, 32124},
		{0x00, -32124},
		{0xFE, 8},
		{0x7E, -8},
	}
	for _, tt := range decoded {
		if got := MulawDecode(tt.mulaw); got != tt.pcm {
			t.Errorf("MulawDecode(%#x) = %d; want %d", tt.mulaw, got, tt.pcm)
		}
	}
}

// Every code decodes to a sample that encodes back to the same code, except
// negative zero, which has no sample of its own.
func TestMulawRoundTripCodes(t *testing.T) {
	for i := 0; i < 256; i++ {
		b := byte(i)
		want := b
		if b == 0x7F {
			want = 0xFF
		}
		if got := MulawEncode(MulawDecode(b)); got != want {
			t.Errorf("encode(decode(%#x)) = %#x; want %#x", b, got, want)
		}
	}
}

// A linear sample survives encode/decode within half a quantisation step of
// its segment, and keeps its sign.
func TestMulawRoundTripSamples(t *testing.T) {
	tests := []struct {
		name     string
		lo, hi   int
		maxError int
	}{
		{"segment 0", -30, 30, 4},
		{"segment 1-2", -200, 200, 8},
		{"mid", -4000, 4000, 128},
		{"loud", -32768, 32767, 1024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			for range 5000 {
				x := tt.lo + r.IntN(tt.hi-tt.lo+1)
				y := int(MulawDecode(MulawEncode(int16(x))))
				if d := abs(y - x); d > tt.maxError {
					t.Fatalf("round trip of %d = %d, error %d > %d", x, y, d, tt.maxError)
				}
				if x > 8 && y <= 0 || x < -8 && y >= 0 {
					t.Fatalf("round trip of %d = %d changed sign", x, y)
				}
			}
		})
	}
}

func TestMulawSlices(t *testing.T) {
	pcm := []int16{0, 100, -100, 5000, -5000, 32767}
	enc := EncodeMulaw(nil, pcm)
	if len(enc) != len(pcm) {
		t.Fatalf("EncodeMulaw len = %d", len(enc))
	}
	dec := DecodeMulaw(nil, enc)
	for i := range pcm {
		if dec[i] != MulawDecode(MulawEncode(pcm[i])) {
			t.Errorf("sample %d: %d", i, dec[i])
		}
	}
	if Voiced(Silence(RealTime)) {
		t.Error("silence counted as voiced")
	}
	if !Voiced(Tone(RealTime, 440, 8000)) {
		t.Error("tone not counted as voiced")
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
