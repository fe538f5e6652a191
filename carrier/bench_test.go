package carrier

import (
	"testing"
	"time"
)

// BenchmarkCallSecond is one second of a call in each carrier's protocol
// on the worker's side: the caller's frames decoded to 8 kHz and one
// second of agent audio framed for the carrier. Its ns/op over 1e9 is the
// share of a core one call's codec takes.
func BenchmarkCallSecond(b *testing.B) {
	for _, name := range Names() {
		p := Protocols()[name]
		b.Run(name, func(b *testing.B) {
			c := p.NewCaller(CallerConfig{CallID: "c", StreamID: "s"})
			open := c.Open()
			voice := Tone(time.Second, 300, 8000)
			var in []Frame
			for i := 0; i < len(voice); i += c.FrameSamples() {
				in = append(in, c.Audio(voice[i:i+c.FrameSamples()])...)
			}
			b.ResetTimer()
			for range b.N {
				d := p.NewDecoder() // sequence numbers start again
				var enc Encoder
				for _, f := range append(open, in...) {
					evs, err := d.Decode(f)
					if err != nil {
						b.Fatal(err)
					}
					for _, e := range evs {
						if e.Start != nil {
							enc = e.Start.Encoder
						}
					}
				}
				for i := 0; i < len(voice); i += 160 {
					_ = enc.Audio(voice[i : i+160])
				}
			}
		})
	}
}
