package carrier

// CallerConfig identifies the call a Caller plays.
type CallerConfig struct {
	CallID, StreamID string
	// Parameters are sent as the carrier sends custom parameters (start
	// message, extra headers, the connected event's headers).
	Parameters map[string]string
}

// Caller is the carrier's side of one stream: the frames a carrier sends
// and how it reads the agent's. Client drives it; it is not safe for
// concurrent use (Client serialises).
type Caller interface {
	// FrameSamples is the 8 kHz samples one media message carries.
	FrameSamples() int
	// Open is what the carrier sends first (connected, start).
	Open() []Frame
	// Audio frames FrameSamples samples of the caller's voice.
	Audio(pcm []int16) []Frame
	// DTMF is one key press.
	DTMF(digit string) []Frame
	// Stop ends the stream; nil means the carrier ends a stream by
	// closing the WebSocket (normal closure).
	Stop() []Frame
	// Played reports that the agent audio before mark has played.
	Played(mark string) []Frame
	// Cleared is what the carrier sends once it has dropped the agent's
	// queued audio on a clear: the pending marks echoed, or an
	// acknowledgement.
	Cleared(pending []string) []Frame
	// Read decodes one frame the agent sent.
	Read(f Frame) (Reply, error)
}

// ReplyKind says what the agent sent.
type ReplyKind int

// The kinds of Reply.
const (
	ReplyAudio ReplyKind = iota + 1 // audio to play: Audio (8 kHz)
	ReplyMark                       // a mark after the audio sent so far: Mark
	ReplyClear                      // drop the audio queued
)

// Reply is one message from the agent, as the carrier reads it.
type Reply struct {
	Kind  ReplyKind
	Audio []int16
	Mark  string
}
