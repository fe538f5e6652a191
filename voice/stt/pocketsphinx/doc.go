// Package pocketsphinx is the offline speech-to-text provider: CMU
// PocketSphinx (Debian's libpocketsphinx3 with the pocketsphinx-en-us model)
// linked through cgo, decoding each turn as it is spoken.
//
// The en-us model is a 16 kHz one; telephone audio has nothing above 4 kHz,
// which throws its features far off. The stream fills that empty band with
// quiet noise before decoding, which brings the word error rate on 8 kHz
// speech close to that of wideband speech. When the agent has a script,
// the recogniser uses a small language model built from the script's words
// (and a dictionary cut down to them), which is far more accurate than the
// general model for what callers of that script say, and loads in
// milliseconds.
//
// pocketsphinx imports nothing of this module outside voice/.
package pocketsphinx
