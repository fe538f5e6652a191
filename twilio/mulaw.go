package twilio

// G.711 mu-law, as used by Twilio Media Streams (audio/x-mulaw, 8000 Hz,
// mono). Each byte carries one 14-bit linear sample, compressed to 8 bits.

const (
	mulawBias = 0x84  // added before the segment search
	mulawClip = 32635 // largest magnitude that encodes without overflow
)

// MulawSilence is the mu-law byte for a zero sample.
const MulawSilence byte = 0xFF

// mulawDecodeTable maps every mu-law byte to its linear sample.
var mulawDecodeTable = func() (t [256]int16) {
	for i := range t {
		t[i] = mulawDecodeSlow(byte(i))
	}
	return t
}()

func mulawDecodeSlow(b byte) int16 {
	b = ^b
	exponent := int(b>>4) & 0x07
	mantissa := int(b) & 0x0F
	sample := (((mantissa << 3) + mulawBias) << exponent) - mulawBias
	if b&0x80 != 0 {
		return int16(-sample)
	}
	return int16(sample)
}

// MulawEncode compresses one linear 16-bit sample to mu-law.
func MulawEncode(s int16) byte {
	v := int(s)
	var sign byte
	if v < 0 {
		sign = 0x80
		v = -v
	}
	if v > mulawClip {
		v = mulawClip
	}
	v += mulawBias
	exponent := byte(7)
	for mask := 0x4000; v&mask == 0 && exponent > 0; mask >>= 1 {
		exponent--
	}
	mantissa := byte(v>>(exponent+3)) & 0x0F
	return ^(sign | exponent<<4 | mantissa)
}

// MulawDecode expands one mu-law byte to a linear 16-bit sample.
func MulawDecode(b byte) int16 { return mulawDecodeTable[b] }

// EncodeMulaw appends the mu-law encoding of pcm to dst and returns it.
func EncodeMulaw(dst []byte, pcm []int16) []byte {
	for _, s := range pcm {
		dst = append(dst, MulawEncode(s))
	}
	return dst
}

// DecodeMulaw appends the linear samples of the mu-law bytes in src to dst
// and returns it.
func DecodeMulaw(dst []int16, src []byte) []int16 {
	for _, b := range src {
		dst = append(dst, mulawDecodeTable[b])
	}
	return dst
}
