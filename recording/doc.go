// Package recording records a call — both sides in one standard file, a
// stereo 16-bit PCM WAV at 8 kHz, the caller on the left channel and the
// agent on the right — and uploads it to the fleet host's MinIO.
//
// A Writer places each side's audio on the call's timeline by when it was
// written (a side that falls silent is padded with silence; audio queued
// ahead of time, like an agent's synthesised reply, follows what was queued
// before it) and appends the interleaved samples to the file during the
// call, a quarter of a second at a time. Close fixes up the header; Recover
// fixes the header of a file left by a killed process, so a worker killed
// mid-call leaves a playable recording.
//
// An Uploader hands each finished recording to a spool (package spool)
// and drains it to MinIO with minio-go under Key:
// recordings/{org}/{yyyy}/{mm}/{dd}/{call_id}.wav. While MinIO is down the
// upload waits on disk and is retried. RecoverDir finds recordings of calls
// whose worker died (no process holds their lock), fixes them up and
// spools them too.
//
// recording imports spool and runtimeapi only, of this module.
package recording
