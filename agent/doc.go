// Package agent is the voice pipeline behind a call: what the caller hears
// and how it answers what the caller says. A Factory makes one Session per
// call; the worker feeds the Session the caller's audio and key presses, and
// the Session answers through a Sink (audio, marks, clear, hang up). Speech
// recognition, the language model and speech synthesis plug in behind this
// interface as further Factory implementations.
//
// The default, Scripted, needs no network: it greets the caller with a
// chime, plays back each thing the caller says once they pause, and hangs up
// on DTMF #. Audio here is 8 kHz mono 16-bit linear PCM; carrier encodings
// are the worker's business.
//
// agent imports nothing from this module.
package agent
