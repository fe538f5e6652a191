package carrier

import (
	"testing"
	"time"
)

const msec = time.Millisecond

func dur(n int) time.Duration { return time.Duration(n) * time.Second / SampleRate }

// NewDecoderStarted is a protocol decoder that has seen a start.
func (p *Protocol) NewDecoderStarted(t *testing.T) Decoder {
	d, _, _ := open(t, p, nil)
	return d
}
