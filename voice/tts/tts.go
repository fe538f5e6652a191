// Package tts is the text-to-speech interface of the voice pipeline. A
// Synthesizer speaks one piece of text at a time and hands its audio over
// as it is produced, so the caller hears the first words before the last
// are made.
//
// Providers live in sub-packages: espeak (offline, the default),
// openaispeech (OpenAI-compatible speech endpoint, streamed) and elevenlabs
// (streaming WebSocket).
//
// tts imports nothing of this module.
package tts

import "context"

// Synthesizer turns text into speech.
type Synthesizer interface {
	// SampleRate is the rate, in Hz, of the audio it emits.
	SampleRate() int
	// Speak synthesises text with voice ("" for the default) and calls emit
	// with each chunk of 16-bit mono audio as it arrives. It returns when
	// the text is spoken, ctx ends, or emit returns an error.
	Speak(ctx context.Context, text, voice string, emit func(pcm []int16) error) error
}
