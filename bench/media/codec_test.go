package main

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/livekit/media-sdk"
	"github.com/livekit/media-sdk/opus"
	protoLogger "github.com/livekit/protocol/logger"
	pionmedia "github.com/pion/webrtc/v4/pkg/media"
)

type discard struct{}

func (discard) WriteSample(pionmedia.Sample) error { return nil }

// voice is a second of a vowel-like signal at rate.
func voice(rate int) []int16 {
	out := make([]int16, rate)
	for i := range out {
		t := float64(i) / float64(rate)
		out[i] = int16(6000*math.Sin(2*math.Pi*140*t) + 3000*math.Sin(2*math.Pi*700*t) + 1500*math.Sin(2*math.Pi*2400*t))
	}
	return out
}

// BenchmarkEncodeSecond encodes one second of audio per op: the agent's
// side of a call. "sdk" is what the SDK's PCM track does (8 kHz resampled to
// 48 kHz, 10 ms frames, libopus's default complexity); the others are
// roomleg's (8 kHz straight in, 20 ms frames) at a given complexity.
// Run: go test -run - -bench . ./bench/media/
func BenchmarkEncodeSecond(b *testing.B) {
	log := protoLogger.GetDiscardLogger()
	b.Run("sdk-48k-10ms", func(b *testing.B) {
		enc, err := opus.Encode(media.FromSampleWriter[opus.Sample](discard{}, 48000, 10*time.Millisecond), 1, log)
		if err != nil {
			b.Fatal(err)
		}
		w := media.ResampleWriter(enc, 8000)
		pcm := voice(8000)
		b.ResetTimer()
		for range b.N {
			for f := 0; f < len(pcm); f += 80 {
				_ = w.WriteSample(pcm[f : f+80])
			}
		}
	})
	for _, c := range []int{1, 3, 5, 9} {
		b.Run(fmt.Sprintf("8k-20ms-complexity-%d", c), func(b *testing.B) {
			enc, err := opus.EncodeWith(media.FromSampleWriter[opus.Sample](discard{}, 8000, 20*time.Millisecond), 1,
				opus.EncodeOptions{Complexity: c}, log)
			if err != nil {
				b.Fatal(err)
			}
			pcm := voice(8000)
			b.ResetTimer()
			for range b.N {
				for f := 0; f < len(pcm); f += 160 {
					_ = enc.WriteSample(pcm[f : f+160])
				}
			}
		})
	}
}
