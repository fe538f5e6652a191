// Package twilio speaks Twilio Media Streams, the carrier protocol a voice
// fleet worker answers on /ws/twilio: the JSON messages exchanged over the
// WebSocket (inbound connected, start, media, dtmf, mark, stop; outbound
// media, mark, clear), a strict parser for inbound frames, the G.711 mu-law
// codec the audio travels in, and a small client that plays the carrier's
// part for tests and benchmarks. The worker serves it through package
// carrier, beside the other carriers' protocols.
//
// twilio imports nothing from this module.
package twilio
