// Package audio converts between sample rates and reads and writes 16-bit
// mono WAV. The voice pipeline resamples here and nowhere else: between the
// call leg's rate and each provider's rate.
//
// audio imports nothing of this module.
package audio
