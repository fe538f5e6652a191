package carrier

import (
	"bytes"
	"encoding/base64"
	"encoding/json"

	"github.com/voxplatform/vox/twilio"
	"github.com/voxplatform/vox/voice/audio"
)

// encoding is how a carrier's audio bytes carry samples.
type encoding int

const (
	mulaw encoding = iota // G.711 mu-law (PCMU), one byte a sample
	l16                   // signed 16-bit little-endian linear PCM
)

// format is a carrier stream's audio format, mono.
type format struct {
	enc  encoding
	rate int
}

// bytesFor is the size of d milliseconds of audio.
func (f format) bytesFor(ms int) int {
	n := f.rate * ms / 1000
	if f.enc == l16 {
		n *= 2
	}
	return n
}

// maxPayload bounds the bytes of one inbound message's audio.
func (f format) maxPayload() int { return f.bytesFor(maxPayloadSeconds * 1000) }

// inAudio turns one stream's carrier audio into 8 kHz samples.
type inAudio struct {
	f  format
	rs *audio.Resampler // nil at 8 kHz
}

func newInAudio(f format) *inAudio {
	a := &inAudio{f: f}
	if f.rate != SampleRate {
		a.rs = audio.NewResampler(f.rate, SampleRate)
	}
	return a
}

func (a *inAudio) decode(b []byte) []int16 {
	var pcm []int16
	if a.f.enc == mulaw {
		pcm = twilio.DecodeMulaw(make([]int16, 0, len(b)), b)
	} else {
		pcm = audio.PCM(b)
	}
	if a.rs != nil {
		pcm = a.rs.Process(pcm)
	}
	return pcm
}

// outAudio turns 8 kHz agent samples into one stream's carrier audio.
type outAudio struct {
	f  format
	rs *audio.Resampler // nil at 8 kHz
}

func newOutAudio(f format) *outAudio {
	a := &outAudio{f: f}
	if f.rate != SampleRate {
		a.rs = audio.NewResampler(SampleRate, f.rate)
	}
	return a
}

func (a *outAudio) encode(pcm []int16) []byte {
	if a.rs != nil {
		pcm = a.rs.Process(pcm)
	}
	if a.f.enc == mulaw {
		return twilio.EncodeMulaw(make([]byte, 0, len(pcm)), pcm)
	}
	b := make([]byte, 2*len(pcm))
	audio.PutPCM(b, pcm)
	return b
}

// silence is n bytes of silence in f.
func (f format) silence(n int) []byte {
	b := make([]byte, n)
	if f.enc == mulaw {
		for i := range b {
			b[i] = twilio.MulawSilence
		}
	}
	return b
}

// chunks cuts b into pieces of size bytes, padding the last with silence
// to a multiple of pad bytes (pad 0: no padding).
func (f format) chunks(b []byte, size, pad int) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := min(size, len(b))
		c := b[:n]
		if pad > 0 && n%pad != 0 {
			c = append(append([]byte(nil), c...), f.silence(pad-n%pad)...)
		}
		out = append(out, c)
		b = b[n:]
	}
	return out
}

// decodeJSON decodes one JSON message into v: exactly one object.
func decodeJSON(carrier string, data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return protoErr(carrier, err, "malformed JSON")
	}
	if dec.More() {
		return protoErr(carrier, nil, "trailing data after message")
	}
	return nil
}

// payload decodes a base64 audio payload of at most max bytes whose size
// is a multiple of unit.
func payload(carrier, b64 string, max, unit int) ([]byte, error) {
	if base64.StdEncoding.DecodedLen(len(b64)) > max+2 {
		return nil, protoErr(carrier, nil, "media payload exceeds %d bytes", max)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, protoErr(carrier, err, "media payload is not base64")
	}
	switch {
	case len(b) > max:
		return nil, protoErr(carrier, nil, "media payload exceeds %d bytes", max)
	case len(b) == 0:
		return nil, protoErr(carrier, nil, "empty media payload")
	case unit > 1 && len(b)%unit != 0:
		return nil, protoErr(carrier, nil, "media payload of %d bytes is not a multiple of %d", len(b), unit)
	}
	return b, nil
}

// jsonFrame marshals one of this package's message types (which always
// marshal) into a text frame.
func jsonFrame(v any) Frame {
	b, _ := json.Marshal(v)
	return Text(b)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// units holds back the bytes after the last whole unit of an encoder's
// audio, for carriers whose frames are a fixed size or multiple.
type units struct{ b []byte }

// whole returns the whole units of what is held and b, holding the rest.
func (u *units) whole(b []byte, unit int) []byte {
	all := append(u.b, b...)
	n := len(all) / unit * unit
	u.b = append([]byte(nil), all[n:]...)
	return all[:n]
}

// flush returns what is held (to be padded) and holds nothing.
func (u *units) flush() []byte {
	b := u.b
	u.b = nil
	return b
}
