package agent

import (
	"context"
	"time"
)

// Transferer is a Sink that can hand the call to another party (a SIP
// REFER through LiveKit, a redirect where the carrier supports it). A
// Session asks for it with a type assertion; a Sink without it cannot
// transfer.
type Transferer interface {
	// Transfer hands the call to, an E.164 number or SIP URI. The call
	// leaves the agent when it succeeds.
	Transfer(ctx context.Context, to string) error
}

// Reporter is a Session that keeps a record of the call. The worker reads
// it while the call runs (about once a second, for the settled part of the
// transcript) and when the call ends, for the call record: Report must be
// safe to call concurrently with the Session's other methods.
type Reporter interface {
	Report() Report
}

// Speakers of an Utterance.
const (
	SpeakerAgent  = "agent"
	SpeakerCaller = "caller"
)

// Report is what a Session knows of its call.
type Report struct {
	// Transcript is what was said, in order.
	Transcript []Utterance
	// Fields are the values the agent extracted (record_field).
	Fields map[string]string
	// BargeIns are, for each time the caller talked over the agent, the
	// time from the start of the caller's speech to the agent's audio
	// being cleared.
	BargeIns []time.Duration
	// EndReason is why the agent ended the call ("" if it did not).
	EndReason string
	// TransferredTo is where the agent transferred the call, if it did.
	TransferredTo string
}

// Utterance is one entry of a transcript.
type Utterance struct {
	Speaker string
	Text    string
	// At is when it started: the caller's first voiced audio, or the
	// agent's first audio sent.
	At time.Time
	// Interrupted: the caller talked over the agent before it finished.
	Interrupted bool
	// Latency of an agent reply to a caller turn; nil otherwise.
	Latency *TurnLatency
}

// TurnLatency splits the time from the caller's end of speech to the
// agent's first audio. Stages a pipeline does not have are 0.
type TurnLatency struct {
	// EndOfTurn is the silence waited for before the turn was taken as
	// ended.
	EndOfTurn time.Duration
	// STT is from the end of the turn to the final transcript.
	STT time.Duration
	// FirstToken is from asking the brain to its first words.
	FirstToken time.Duration
	// FirstSentence is from the first words to the first speakable
	// sentence.
	FirstSentence time.Duration
	// TTS is from handing the first sentence to the synthesiser to its
	// first audio.
	TTS time.Duration
	// Overhead is the platform's own share: Response less every provider
	// stage above.
	Overhead time.Duration
	// Response is from the end of the turn being detected to the first
	// audio handed to the leg.
	Response time.Duration
}

// VoiceToVoice is from the caller's last voiced audio to the agent's first
// audio: EndOfTurn + Response.
func (l TurnLatency) VoiceToVoice() time.Duration { return l.EndOfTurn + l.Response }
