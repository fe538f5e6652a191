package callslot

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/lifeline"
	"github.com/voxplatform/vox/runtimeapi"
)

// CallRecord is what a worker knows about a call. The worker reports it at
// each step of the call (begun, answered, ended) to Config.Recorder, which
// hands it on to the Backend as a runtimeapi.CallRecord (see Runtime).
type CallRecord struct {
	CallID     string            `json:"call_id"`
	Source     string            `json:"source"`  // the route: "twilio", "attach", "dialout", "widget", "dispatch"
	Carrier    string            `json:"carrier"` // runtimeapi.Carrier…
	Direction  string            `json:"direction,omitempty"`
	AgentID    string            `json:"agent_id,omitempty"`
	CampaignID string            `json:"campaign_id,omitempty"`
	ContactID  string            `json:"contact_id,omitempty"`
	From       string            `json:"from,omitempty"`
	To         string            `json:"to,omitempty"`
	Room       string            `json:"room,omitempty"`
	StreamSID  string            `json:"stream_sid,omitempty"`
	Parameters map[string]string `json:"parameters,omitempty"`
	Started    time.Time         `json:"started"`
	Answered   time.Time         `json:"answered,omitzero"` // zero until (unless) the caller is there
	Ended      time.Time         `json:"ended,omitzero"`    // zero until the call ends
	Cause      EndCause          `json:"cause,omitempty"`
	Code       int               `json:"code,omitempty"`    // the carrier's status: WebSocket close code, SIP status
	Outcome    string            `json:"outcome,omitempty"` // Cause.Outcome(): lifeline.OutcomeCompleted or OutcomeFailed
	Reason     string            `json:"reason,omitempty"`  // why the call ended, for people
	// Transcript and Fields are what the agent knows of the call (an
	// agent.Reporter's report): the settled part while the call runs, all
	// of it once it ended.
	Transcript []runtimeapi.TranscriptEntry `json:"transcript,omitempty"`
	Fields     map[string]string            `json:"fields,omitempty"`
}

// Seconds is the call's duration.
func (r CallRecord) Seconds() float64 { return r.Ended.Sub(r.Started).Seconds() }

// Status is the runtime status the record stands for.
func (r CallRecord) Status() string {
	switch {
	case r.Ended.IsZero() && r.Answered.IsZero():
		return runtimeapi.CallRinging
	case r.Ended.IsZero():
		return runtimeapi.CallInProgress
	case !r.Answered.IsZero():
		if r.Cause.Outcome() == lifeline.OutcomeCompleted {
			return runtimeapi.CallCompleted
		}
		return runtimeapi.CallFailed
	}
	switch r.Cause {
	case CauseBusy:
		return runtimeapi.CallBusy
	case CauseNoAnswer:
		return runtimeapi.CallNoAnswer
	case CauseCallerHangup:
		return runtimeapi.CallCanceled
	}
	return runtimeapi.CallFailed
}

// Runtime is the record as the Backend stores it (PUT /runtime/calls/{id});
// fleetURL names this fleet host.
func (r CallRecord) Runtime(fleetURL string) runtimeapi.CallRecord {
	out := runtimeapi.CallRecord{
		AgentID: r.AgentID, CampaignID: r.CampaignID, ContactID: r.ContactID,
		Direction: r.Direction, Carrier: r.Carrier, From: r.From, To: r.To,
		Status: r.Status(), FleetURL: fleetURL, StartedAt: r.Started, AnsweredAt: r.Answered, EndedAt: r.Ended,
		Transcript: r.Transcript, Fields: r.Fields,
	}
	if r.Ended.IsZero() {
		return out
	}
	out.EndCause = string(r.Cause)
	if r.Carrier == runtimeapi.CarrierSIP && r.Code >= 100 && r.Code <= 699 {
		out.SIPStatus = r.Code
	}
	if r.Cause.Outcome() != lifeline.OutcomeCompleted {
		out.Error = r.Reason
	}
	secs := func(d time.Duration) *float64 { s := d.Seconds(); return &s }
	out.DurationSeconds = secs(r.Ended.Sub(r.Started))
	if r.Answered.IsZero() {
		out.RingSeconds = secs(r.Ended.Sub(r.Started))
	} else {
		out.RingSeconds = secs(r.Answered.Sub(r.Started))
		out.TalkSeconds = secs(r.Ended.Sub(r.Answered))
	}
	return out
}

// CallRecorder receives a call's record at each step: when the call is
// known (Status ringing), answered (in-progress) and ended. It must not
// block for long (a spool write): the call waits for it, and after the last
// one the slot is freed.
type CallRecorder interface {
	RecordCall(ctx context.Context, rec CallRecord) error
}

// reportOf turns what an agent knows of its call into the record's
// transcript and fields, within the Backend's limits (a record it would
// refuse would be lost): longer texts and values are cut, entries and
// fields beyond the limits and fields with unusable names are left out.
// With settled, only the entries that can no longer change are kept: an
// agent's utterance grows sentence by sentence and may yet be
// interrupted, so the last entry waits unless the caller said it. The
// Backend keeps the first version of each entry it receives.
func reportOf(rep agent.Report, settled bool) ([]runtimeapi.TranscriptEntry, map[string]string) {
	us := rep.Transcript
	if settled && len(us) > 0 && us[len(us)-1].Speaker != agent.SpeakerCaller {
		us = us[:len(us)-1]
	}
	us = us[:min(len(us), runtimeapi.MaxTranscriptEntries)]
	var tr []runtimeapi.TranscriptEntry
	for i, u := range us {
		e := runtimeapi.TranscriptEntry{Seq: i, Speaker: runtimeapi.SpeakerAgent, Text: cutRunes(u.Text, runtimeapi.MaxEntryText),
			At: u.At, Interrupted: u.Interrupted}
		if u.Speaker == agent.SpeakerCaller {
			e.Speaker = runtimeapi.SpeakerCaller
		}
		if e.At.IsZero() {
			e.At = time.Now()
		}
		if l := u.Latency; l != nil {
			ms := func(d time.Duration) int { return int(min(max(d, 0), time.Hour).Milliseconds()) }
			e.Latency = &runtimeapi.TurnLatency{ResponseMS: ms(l.Response), EndOfTurnMS: ms(l.EndOfTurn), STTMS: ms(l.STT),
				LLMMS: ms(l.FirstToken), SentenceMS: ms(l.FirstSentence), TTSMS: ms(l.TTS), OverheadMS: ms(l.Overhead)}
		}
		tr = append(tr, e)
	}
	var fields map[string]string
	for k, v := range rep.Fields {
		if len(fields) >= runtimeapi.MaxFields || !fieldKeyOK(k) {
			continue
		}
		if fields == nil {
			fields = map[string]string{}
		}
		fields[k] = cutBytes(v, runtimeapi.MaxFieldValue)
	}
	return tr, fields
}

// fieldKeyOK: a letter, then letters, digits, _ and -, at most
// runtimeapi.MaxFieldKey.
func fieldKeyOK(k string) bool {
	if k == "" || len(k) > runtimeapi.MaxFieldKey {
		return false
	}
	for i, r := range k {
		letter := r < utf8.RuneSelf && (r|0x20 >= 'a' && r|0x20 <= 'z')
		if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '_' || r == '-')) {
			return false
		}
	}
	return true
}

// cutRunes is s, valid UTF-8 without NULs, at most n characters long.
func cutRunes(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// cutBytes is s, valid UTF-8, at most n bytes long, cut between characters.
func cutBytes(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	for len(s) > n {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}
