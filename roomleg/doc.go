// Package roomleg carries one call's media through a LiveKit room: it joins
// the room as an agent participant, publishes the agent's audio as Opus at
// once on joining (silence until the agent speaks, so that livekit-sip
// answers an inbound call), subscribes to the caller's audio as 8 kHz PCM,
// and runs an agent.Session on it, implementing agent.Sink (audio paced in
// real time, marks fired when the audio before them has played, clear for
// barge-in, hangup). A leg ends when the caller leaves, the room is deleted,
// the agent hangs up, the maximum duration passes or its context ends, and
// leaves no goroutine, track or (when asked) room behind.
//
// It needs cgo (libopus, libsoxr through LiveKit's media SDK). It imports
// agent and lkapi from this module, and nothing of the worker or daemon.
package roomleg
