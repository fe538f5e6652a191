// Package pipeline is the agent that listens, thinks and speaks: each
// call's Session runs the caller's audio through voice activity and
// end-of-turn detection (voice/vad) into a speech-to-text stream
// (voice/stt), hands each turn's text to a brain (voice/brain: the script
// or a language model), cuts the brain's words into speakable sentences
// and speaks each through a synthesiser (voice/tts) as soon as it is
// complete, sending audio to the leg as it arrives. When the caller talks
// over the agent, playback is cleared at once and the reply is marked
// interrupted. Audio is resampled between the leg's 8 kHz and each
// provider's rate with voice/audio, here and nowhere else.
//
// A provider that fails, stalls or is slow never hangs the call: the brain
// has a deadline for its first words and between words, after which the
// fallback brain (the script) or an apology answers; a synthesiser that
// fails gives way to the fallback synthesiser.
//
// Factory builds the agent a worker runs from a Config: the scripted echo
// (agent.Scripted), the offline pipeline (PocketSphinx, espeak-ng and the
// script), or one with cloud providers.
//
// pipeline imports agent and voice/ only.
package pipeline
