// Package agent is the voice pipeline behind a call: what the caller hears
// and how it answers what the caller says. A Factory makes one Session per
// call; the worker feeds the Session the caller's audio and key presses, and
// the Session answers through a Sink (audio, marks, clear, hang up). A Sink
// that can hand the call on implements Transferer; a Session that keeps the
// call's transcript, extracted fields and per-turn latencies implements
// Reporter, which the worker reads when the call ends.
//
// The default, Scripted, needs no network: it greets the caller with a
// chime, plays back each thing the caller says once they pause, and hangs up
// on DTMF #. The agent that listens, thinks and speaks (speech recognition,
// the script or a language model, speech synthesis, barge-in) is
// agent/pipeline; pipeline.New chooses between the two. Audio here is 8 kHz
// mono 16-bit linear PCM; carrier encodings are the worker's business.
//
// agent imports nothing from this module.
package agent
