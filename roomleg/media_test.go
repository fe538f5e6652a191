package roomleg

import (
	"testing"

	"github.com/livekit/media-sdk"
	"github.com/livekit/media-sdk/rtp"
	pionrtp "github.com/pion/rtp"
)

func TestCounterSpan(t *testing.T) {
	cases := []struct {
		name       string
		seqs       []uint16
		sent, seen int64
	}{
		{"none", nil, 0, 0},
		{"in order", []uint16{10, 11, 12}, 3, 3},
		{"lost one", []uint16{10, 12}, 3, 2},
		{"reordered", []uint16{10, 12, 11, 13}, 4, 4},
		{"wraps", []uint16{65534, 65535, 0, 2}, 5, 4},
		{"late across the wrap", []uint16{65535, 1, 0}, 3, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c counter
			for _, s := range tc.seqs {
				c.add(s)
			}
			if sent, seen := c.span(); sent != tc.sent || seen != tc.seen {
				t.Fatalf("span = %d sent %d seen, want %d %d", sent, seen, tc.sent, tc.seen)
			}
		})
	}
}

// TestGapFillerTurnsDTXIntoSilence: consecutive packets whose timestamps
// jump (the sender stopped sending while its caller was silent) give the
// agent the silence they stand for; lost packets, steady frames and a
// reordered packet do not.
func TestGapFillerTurnsDTXIntoSilence(t *testing.T) {
	type pkt struct {
		seq uint16
		ts  uint32
	}
	cases := []struct {
		name    string
		pkts    []pkt
		silence int // samples at 8 kHz
	}{
		{"steady 20 ms frames", []pkt{{1, 0}, {2, 960}, {3, 1920}}, 0},
		{"a 400 ms pause", []pkt{{1, 0}, {2, 960}, {3, 960 + 19200}}, (19200 - 960) / 6},
		{"lost packets are the decoder's", []pkt{{1, 0}, {2, 960}, {5, 3840}}, 0},
		{"reordered", []pkt{{1, 0}, {3, 1920}, {2, 960}, {4, 2880}}, 0},
		{"a long pause is bounded", []pkt{{1, 0}, {2, 960}, {3, 960 + 48000*10}}, 2 * Rate},
		{"before any step: 20 ms frames", []pkt{{1, 0}, {2, 960 * 5}}, 960 * 4 / 6},
		{"timestamps wrap", []pkt{{1, 1<<32 - 960}, {2, 0}, {3, 960}}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			silence, frames := 0, 0
			g := &gapFiller{HandlerCloser: rtp.NewNopCloser(rtp.HandlerFunc(func(*pionrtp.Header, []byte) error {
				frames++
				return nil
			})), clock: 48000, sink: func(s media.PCM16Sample) {
				for _, v := range s {
					if v != 0 {
						t.Fatalf("fill is not silence")
					}
				}
				silence += len(s)
			}}
			for _, p := range tc.pkts {
				if err := g.HandleRTP(&pionrtp.Header{SequenceNumber: p.seq, Timestamp: p.ts}, nil); err != nil {
					t.Fatal(err)
				}
			}
			if silence != tc.silence || frames != len(tc.pkts) {
				t.Fatalf("silence %d samples, %d packets passed; want %d, %d", silence, frames, tc.silence, len(tc.pkts))
			}
		})
	}
}
