// Package vad finds the caller's speech in a stream of audio frames and
// decides when the caller's turn has ended. Speech starts after a few
// voiced frames (so a click is not a barge-in), is held through short gaps
// (hangover), and ends when a silence lasts the end-of-turn time, which
// adapts to how long this caller pauses inside a sentence. A frame is voiced
// when its energy is above both a fixed floor and a multiple of the tracked
// background noise, and its zero-crossing rate is not that of hiss.
//
// Time is counted in samples, never on the wall clock, so the detector is
// pure and behaves the same whatever pace audio arrives at.
//
// vad imports nothing of this module.
package vad
