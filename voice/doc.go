// Package voice holds what the voice pipeline's parts share: nothing but this
// documentation. Its sub-packages are the parts: audio (resampling and WAV,
// the one place sample rates are converted), vad (voice activity and end of
// turn), stt, tts and brain (the provider interfaces) and their providers,
// script (the offline brain) and llm (an OpenAI-compatible chat client).
//
// voice and its sub-packages import nothing of this module outside voice/.
package voice
