// Package stt is the speech-to-text interface of the voice pipeline. A
// Recognizer opens one Stream per call; the pipeline writes the caller's
// speech into it at the Recognizer's own rate and asks for the final text
// of each turn with Flush. Partial text arrives through Options.OnPartial.
//
// Providers live in sub-packages: pocketsphinx (offline, the default),
// deepgram (live WebSocket API) and openaitranscribe (OpenAI-compatible
// segment transcription).
//
// stt imports nothing of this module.
package stt

import (
	"context"
	"errors"
)

// Options configure one Stream.
type Options struct {
	// Language is a BCP 47 tag such as en-US; "" for the provider's default.
	Language string
	// Phrases are what callers are likely to say (the script's words):
	// providers that can bias their vocabulary use them.
	Phrases []string
	// OnPartial, when set, receives the text of the turn so far as it
	// changes. It is called from the provider's goroutine and must not block.
	OnPartial func(text string)
}

// Recognizer makes streams.
type Recognizer interface {
	// SampleRate is the rate, in Hz, of the audio a Stream takes.
	SampleRate() int
	// Open starts a stream for one call.
	Open(ctx context.Context, opts Options) (Stream, error)
}

// Stream recognises one call's turns.
type Stream interface {
	// Write adds audio of the current turn; it does not wait for the
	// provider.
	Write(pcm []int16) error
	// Flush ends the current turn and returns its final text ("" when
	// nothing was recognised).
	Flush(ctx context.Context) (string, error)
	// Close ends the stream.
	Close() error
}

// ErrClosed is returned by a Stream used after Close.
var ErrClosed = errors.New("stt: stream closed")
