package roomleg

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/livekit/media-sdk"
	"github.com/livekit/media-sdk/opus"
	"github.com/livekit/media-sdk/rtp"
	protoLogger "github.com/livekit/protocol/logger"
	pionrtp "github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// The agent's audio goes out as Opus encoded straight from 8 kHz frames of
// 20 ms, and the caller's is decoded straight to 8 kHz: no resampling either
// way, half the packets of the SDK's PCM tracks (10 ms frames at 48 kHz).
// docs/BENCHMARKS.md has the figures that chose this.
const (
	frameDur     = 20 * time.Millisecond
	frameSamples = Rate / 50
)

// DefaultOpusComplexity is the encoder complexity when Config leaves it 0.
// libopus's default (9 of 10) costs about three times as much CPU per second
// of 8 kHz speech as 3, for quality a phone line (G.711 behind livekit-sip)
// cannot carry; docs/BENCHMARKS.md has the figures.
const DefaultOpusComplexity = 3

// outTrack is the agent's published track: an Opus encoder over a pion
// sample track, fed one 20 ms frame at a time by the pacer.
type outTrack struct {
	*webrtc.TrackLocalStaticSample
	enc media.PCM16Writer

	once  sync.Once
	bound chan struct{} // closed once pion bound the track: writes reach the room
}

func newOutTrack(complexity int, logger protoLogger.Logger) (*outTrack, error) {
	tr, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "agent-audio", "agent")
	if err != nil {
		return nil, fmt.Errorf("local track: %w", err)
	}
	enc, err := opus.EncodeWith(media.FromSampleWriter[opus.Sample](tr, Rate, frameDur), 1,
		opus.EncodeOptions{Complexity: complexity}, logger)
	if err != nil {
		return nil, fmt.Errorf("opus encoder: %w", err)
	}
	return &outTrack{TrackLocalStaticSample: tr, enc: enc, bound: make(chan struct{})}, nil
}

// Bind implements webrtc.TrackLocal.
func (t *outTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	p, err := t.TrackLocalStaticSample.Bind(ctx)
	if err == nil {
		t.once.Do(func() { close(t.bound) })
	}
	return p, err
}

// writeFrame encodes and sends one frame.
func (t *outTrack) writeFrame(pcm []int16) error { return t.enc.WriteSample(pcm) }

func (t *outTrack) close() { _ = t.enc.Close() }

// inTrack decodes one remote Opus track to 8 kHz PCM for sink.
type inTrack struct {
	done chan struct{}
	// arrived and decoded count RTP packets as they come from the network
	// and as they leave the jitter buffer for the decoder.
	arrived, decoded counter
}

// counter counts RTP packets and the sequence-number span they cover.
type counter struct {
	mu      sync.Mutex // guards the fields below
	n       int64
	started bool
	first   int64 // extended sequence numbers
	last    int64
}

func (c *counter) add(seq uint16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if !c.started {
		c.started, c.first, c.last = true, int64(seq), int64(seq)
		return
	}
	// Extend across wraps: take the candidate closest to the last seen.
	ext := c.last&^0xffff | int64(seq)
	switch {
	case ext < c.last-0x8000:
		ext += 0x10000
	case ext > c.last+0x8000:
		ext -= 0x10000
	}
	c.last = max(c.last, ext)
}

// span is how many packets the sender sent between the first and the
// last seen, and how many were seen.
func (c *counter) span() (sent, seen int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started {
		return 0, 0
	}
	return c.last - c.first + 1, c.n
}

// countHandler counts packets on their way to h.
type countHandler struct {
	rtp.HandlerCloser
	c *counter
}

func (h countHandler) HandleRTP(hdr *pionrtp.Header, payload []byte) error {
	h.c.add(hdr.SequenceNumber)
	return h.HandlerCloser.HandleRTP(hdr, payload)
}

// pcmSink is the end of the decoding chain.
type pcmSink func(media.PCM16Sample)

func (pcmSink) String() string  { return "roomleg" }
func (pcmSink) SampleRate() int { return Rate }
func (pcmSink) Close() error    { return nil }
func (f pcmSink) WriteSample(s media.PCM16Sample) error {
	f(s)
	return nil
}

// decode reads track until it ends (the leg left the room), through a
// jitter buffer and an 8 kHz Opus decoder, into sink.
func decode(track *webrtc.TrackRemote, sink pcmSink, logger protoLogger.Logger) (*inTrack, error) {
	if track.Codec().MimeType != webrtc.MimeTypeOpus {
		return nil, errors.New("caller track is not Opus: " + track.Codec().MimeType)
	}
	dec, err := opus.Decode(sink, 1, logger)
	if err != nil {
		return nil, fmt.Errorf("opus decoder: %w", err)
	}
	in := &inTrack{done: make(chan struct{})}
	var h rtp.HandlerCloser = countHandler{rtp.NewNopCloser(rtp.NewMediaStreamIn[opus.Sample](dec)), &in.decoded}
	h = &gapFiller{HandlerCloser: h, sink: sink, clock: track.Codec().ClockRate}
	h = countHandler{rtp.HandleJitter(h), &in.arrived}
	go func() {
		defer close(in.done)
		_ = rtp.HandleLoop(track, h) // ends with the track; closes h
		_ = dec.Close()
	}()
	return in, nil
}

// maxGapFill bounds the silence one DTX pause becomes.
const maxGapFill = 2 * time.Second

// gapFiller turns a DTX pause into silence for sink. A sender with
// discontinuous transmission (browsers, by default) sends next to nothing
// while the caller is silent: consecutive packets whose timestamps jump.
// Without the silence the agent would hear one long utterance and never
// the pause that ends a turn.
type gapFiller struct {
	rtp.HandlerCloser
	sink  pcmSink
	clock uint32 // RTP clock rate of the track

	started bool
	seq     uint16
	ts      uint32
	inc     uint32 // smallest timestamp step between consecutive packets: one frame
}

func (g *gapFiller) HandleRTP(hdr *pionrtp.Header, payload []byte) error {
	if g.started && hdr.SequenceNumber == g.seq+1 && g.clock > 0 {
		step := hdr.Timestamp - g.ts
		if step > 0 && step <= g.clock*3/50 { // Opus frames are 60 ms at most
			if g.inc == 0 || step < g.inc {
				g.inc = step
			}
		}
		frame := g.inc
		if frame == 0 {
			frame = g.clock / 50 // 20 ms until a step was seen
		}
		if step > 2*frame && step < 1<<31 {
			gap := time.Duration(step-frame) * time.Second / time.Duration(g.clock)
			g.sink(make(media.PCM16Sample, int(min(gap, maxGapFill)*Rate/time.Second)))
		}
	}
	if !g.started || hdr.SequenceNumber-g.seq < 1<<15 { // newer
		g.started, g.seq, g.ts = true, hdr.SequenceNumber, hdr.Timestamp
	}
	return g.HandlerCloser.HandleRTP(hdr, payload)
}
