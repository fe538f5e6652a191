// Package carrier speaks the WebSocket media-stream protocols of the
// carriers a voice fleet worker answers on /ws/<carrier>, beside Twilio:
//
//   - Exotel AgentStream (Voicebot applet): JSON events, caller and agent
//     audio as base64 16-bit little-endian slin at 8 kHz in chunks of a
//     multiple of 320 bytes; mark and clear; dtmf; stop.
//     https://developer.exotel.com/docs/agentstream/websocket-protocol and
//     https://developer.exotel.com/docs/agentstream/stream-voicebot-applet
//   - Plivo Audio Streams: JSON events start, media, dtmf, playedStream,
//     clearedAudio from Plivo; playAudio, checkpoint, clearAudio to it; the
//     stream ends when Plivo closes the WebSocket.
//     https://plivo.com/docs/voice/audio-streaming/audio-streaming
//   - Telnyx Media Streaming: JSON events with a stream_id, PCMU audio,
//     media, mark and clear both ways, dtmf, error and stop; frames may
//     arrive out of order and are put back in order by sequence_number.
//     https://developers.telnyx.com/api-reference/websockets/stream-call-media-over-websocket
//   - Vonage Voice WebSockets: a websocket:connected text event carrying
//     the call's headers, then binary audio/l16 at 16 kHz in frames of
//     exactly 640 bytes both ways; text actions clear and notify, events
//     websocket:cleared, websocket:notify and websocket:dtmf; the stream
//     ends when Vonage closes the WebSocket.
//     https://developer.vonage.com/en/voice/voice-api/concepts/websockets
//   - Twilio Media Streams, through package twilio, so that one stream leg
//     serves every carrier.
//
// Each Protocol has both sides. The worker's side is a Decoder (the
// carrier's frames in, validated, as Events with 8 kHz audio) and an Encoder
// (the agent's 8 kHz audio, marks and clears out, framed as the carrier
// wants). The carrier's side is a Caller, which Client drives to play a
// carrier in tests, benchmarks and `voxfleet call --carrier`. Every frame
// that breaks a protocol is a *ProtocolError; audio formats convert in
// format.go, resampling through voice/audio.
//
// carrier imports only twilio, voice/audio and fleetapi of this module.
package carrier
