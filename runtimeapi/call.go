package runtimeapi

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// CallRecord is the body of PUT /runtime/calls/{call_id}: the state of one
// call as its worker (or the Dialler) knows it. A field left at its zero
// value keeps what is stored, so a writer may send only what changed or the
// whole record every time; both are idempotent.
//
// The Backend's stored call embeds it (the bson tags are the stored field
// names).
type CallRecord struct {
	// AgentID is required when the record is created; it names the
	// organisation the call belongs to.
	AgentID    string `bson:"agent_id" json:"agent_id,omitempty"`
	CampaignID string `bson:"campaign_id,omitempty" json:"campaign_id,omitempty"`
	ContactID  string `bson:"contact_id,omitempty" json:"contact_id,omitempty"`
	Direction  string `bson:"direction,omitempty" json:"direction,omitempty"` // Inbound or Outbound
	Carrier    string `bson:"carrier,omitempty" json:"carrier,omitempty"`     // Carrier…
	From       string `bson:"from,omitempty" json:"from,omitempty"`
	To         string `bson:"to,omitempty" json:"to,omitempty"`
	// Status is required: one of Statuses.
	Status string `bson:"status" json:"status"`
	// EndCause says why an ended call ended (End…).
	EndCause string `bson:"end_cause,omitempty" json:"end_cause,omitempty"`
	// SIPStatus is the final SIP response of a SIP call (200 answered, 486
	// busy, 480 no answer, …).
	SIPStatus int `bson:"sip_status,omitempty" json:"sip_status,omitempty"`
	// FleetURL is the fleet host that carried the call.
	FleetURL string `bson:"fleet_url,omitempty" json:"fleet_url,omitempty"`
	// RecordingKey is the recording's object key in the host's MinIO
	// bucket, set once it is uploaded.
	RecordingKey string `bson:"recording_key,omitempty" json:"recording_key,omitempty"`
	Error        string `bson:"error,omitempty" json:"error,omitempty"`

	StartedAt  time.Time `bson:"started_at,omitempty" json:"started_at,omitzero"`
	AnsweredAt time.Time `bson:"answered_at,omitempty" json:"answered_at,omitzero"`
	EndedAt    time.Time `bson:"ended_at,omitempty" json:"ended_at,omitzero"`
	// RingSeconds is from placing the call to its answer (or its end).
	RingSeconds *float64 `bson:"ring_seconds,omitempty" json:"ring_seconds,omitempty"`
	// TalkSeconds is from the answer to the end.
	TalkSeconds *float64 `bson:"talk_seconds,omitempty" json:"talk_seconds,omitempty"`
	// DurationSeconds is from start to end.
	DurationSeconds *float64 `bson:"duration_seconds,omitempty" json:"duration_seconds,omitempty"`

	// Transcript is what the agent and the caller said, as far as the
	// agent knows it. Entries are appended to the stored transcript once
	// each, by Seq: sending the whole transcript again adds nothing.
	Transcript []TranscriptEntry `bson:"transcript,omitempty" json:"transcript,omitempty"`
	// Fields are what the agent extracted from the call (name, intent, …);
	// they are merged into the stored ones, key by key.
	Fields map[string]string `bson:"fields,omitempty" json:"fields,omitempty"`
}

// TranscriptEntry is one utterance.
type TranscriptEntry struct {
	// Seq numbers the call's entries from 0, in the order they were said.
	Seq     int    `bson:"seq" json:"seq"`
	Speaker string `bson:"speaker" json:"speaker"` // SpeakerAgent or SpeakerCaller
	Text    string `bson:"text" json:"text"`
	// At is when the utterance started.
	At time.Time `bson:"at" json:"at"`
	// Interrupted: the caller barged in before the agent finished it.
	Interrupted bool `bson:"interrupted,omitempty" json:"interrupted,omitempty"`
	// Latency of an agent turn, when the pipeline measures it.
	Latency *TurnLatency `bson:"latency,omitempty" json:"latency,omitempty"`
}

// TurnLatency is how long one agent turn took, in milliseconds; a stage the
// pipeline does not have (a scripted agent has no model) is left at 0.
type TurnLatency struct {
	// ResponseMS is from the end of the caller's turn being detected to
	// the agent's first audio.
	ResponseMS int `bson:"response_ms,omitempty" json:"response_ms,omitempty"`
	// EndOfTurnMS is the silence waited for before the caller's turn was
	// taken as ended: voice to voice is EndOfTurnMS + ResponseMS.
	EndOfTurnMS int `bson:"end_of_turn_ms,omitempty" json:"end_of_turn_ms,omitempty"`
	// STTMS is from the end of the turn to the final transcript.
	STTMS int `bson:"stt_ms,omitempty" json:"stt_ms,omitempty"`
	// LLMMS is from asking the brain (model or script) to its first words.
	LLMMS int `bson:"llm_ms,omitempty" json:"llm_ms,omitempty"`
	// SentenceMS is from the first words to the first speakable sentence.
	SentenceMS int `bson:"sentence_ms,omitempty" json:"sentence_ms,omitempty"`
	// TTSMS is from the first sentence to its first synthesised audio.
	TTSMS int `bson:"tts_ms,omitempty" json:"tts_ms,omitempty"`
	// OverheadMS is the platform's own share of ResponseMS: what no
	// provider spent.
	OverheadMS int `bson:"overhead_ms,omitempty" json:"overhead_ms,omitempty"`
}

// valid reports whether every stage is 0 to an hour.
func (l TurnLatency) valid() bool {
	for _, v := range []int{l.ResponseMS, l.EndOfTurnMS, l.STTMS, l.LLMMS, l.SentenceMS, l.TTSMS, l.OverheadMS} {
		if v < 0 || v > 3600_000 {
			return false
		}
	}
	return true
}

// Limits of a call record.
const (
	MaxTranscriptEntries = 5000 // seq is below it: a turn every 3 s of the longest call allowed (4 h)
	MaxEntryText         = 4000 // characters of one entry
	MaxFields            = 50
	MaxFieldKey          = 64
	MaxFieldValue        = 1000
)

// FieldError says which field of a request is bad and why.
type FieldError struct {
	Field  string
	Reason string
}

// Error is "field: reason", the message the client is told.
func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func bad(field, format string, a ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, a...)}
}

var (
	// CallIDRE is what a call id looks like.
	CallIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)
	idRE     = regexp.MustCompile(`^[0-9a-fA-F]{24}$`) // a MongoDB object id in hex
	partyRE  = regexp.MustCompile(`^[A-Za-z0-9+*#@._:;=-]{1,200}$`)
	objKeyRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9/_.=-]{0,499}$`)
	tokenRE  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	fieldRE  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)
)

// ValidCallID reports whether id may name a call.
func ValidCallID(id string) bool { return CallIDRE.MatchString(id) }

// Validate checks every field and normalises the record: times to UTC,
// FleetURL without a trailing slash, the transcript sorted by Seq. It
// returns a *FieldError naming the first bad field.
func (r *CallRecord) Validate() error {
	if StatusRank(r.Status) == 0 {
		return bad("status", "must be one of %s", strings.Join(Statuses, ", "))
	}
	for name, v := range map[string]string{"agent_id": r.AgentID, "campaign_id": r.CampaignID, "contact_id": r.ContactID} {
		if v != "" && !idRE.MatchString(v) {
			return bad(name, "not an id (24 hex digits)")
		}
	}
	if r.Direction != "" && r.Direction != Inbound && r.Direction != Outbound {
		return bad("direction", "must be inbound or outbound")
	}
	switch r.Carrier {
	case "", CarrierTwilio, CarrierExotel, CarrierPlivo, CarrierTelnyx, CarrierVonage, CarrierSIP, CarrierWidget, CarrierTest:
	default:
		return bad("carrier", "must be twilio, exotel, plivo, telnyx, vonage, sip, widget or test")
	}
	for name, v := range map[string]string{"from": r.From, "to": r.To} {
		if v != "" && !partyRE.MatchString(v) {
			return bad(name, "must be an E.164 number or SIP address")
		}
	}
	if r.EndCause != "" && !tokenRE.MatchString(r.EndCause) {
		return bad("end_cause", "must be a lower-case token such as caller_hangup")
	}
	if r.SIPStatus != 0 && (r.SIPStatus < 100 || r.SIPStatus > 699) {
		return bad("sip_status", "must be a SIP status code, 100 to 699")
	}
	if r.FleetURL != "" {
		u, err := url.Parse(r.FleetURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || u.RawQuery != "" || u.Fragment != "" || len(r.FleetURL) > 500 {
			return bad("fleet_url", "must be an http(s) URL")
		}
		r.FleetURL = strings.TrimRight(u.String(), "/")
	}
	if r.RecordingKey != "" && (!objKeyRE.MatchString(r.RecordingKey) || strings.Contains(r.RecordingKey, "..")) {
		return bad("recording_key", "must be an object key of letters, digits and /_.=-")
	}
	if len(r.Error) > 1000 {
		return bad("error", "at most 1000 bytes")
	}
	for name, v := range map[string]*time.Time{"started_at": &r.StartedAt, "answered_at": &r.AnsweredAt, "ended_at": &r.EndedAt} {
		if v.IsZero() {
			continue
		}
		if v.Year() < 2000 || v.Year() > 3000 {
			return bad(name, "out of range")
		}
		*v = v.UTC()
	}
	for name, v := range map[string]*float64{"ring_seconds": r.RingSeconds, "talk_seconds": r.TalkSeconds, "duration_seconds": r.DurationSeconds} {
		if v != nil && (*v < 0 || *v > 86400) {
			return bad(name, "must be 0 to 86400")
		}
	}
	if err := validTranscript(r.Transcript); err != nil {
		return err
	}
	sort.Slice(r.Transcript, func(i, j int) bool { return r.Transcript[i].Seq < r.Transcript[j].Seq })
	if len(r.Fields) > MaxFields {
		return bad("fields", "at most %d fields", MaxFields)
	}
	for k, v := range r.Fields {
		if !fieldRE.MatchString(k) {
			return bad("fields", "key %q: a letter, then letters, digits, _ and -, at most %d", k, MaxFieldKey)
		}
		if !utf8.ValidString(v) || len(v) > MaxFieldValue {
			return bad("fields."+k, "valid UTF-8, at most %d bytes", MaxFieldValue)
		}
	}
	return nil
}

func validTranscript(entries []TranscriptEntry) error {
	if len(entries) > MaxTranscriptEntries {
		return bad("transcript", "at most %d entries", MaxTranscriptEntries)
	}
	seen := make(map[int]bool, len(entries))
	for i, e := range entries {
		field := fmt.Sprintf("transcript[%d]", i)
		if e.Seq < 0 || e.Seq >= MaxTranscriptEntries {
			return bad(field+".seq", "must be 0 to %d", MaxTranscriptEntries-1)
		}
		if seen[e.Seq] {
			return bad(field+".seq", "%d appears twice", e.Seq)
		}
		seen[e.Seq] = true
		if e.Speaker != SpeakerAgent && e.Speaker != SpeakerCaller {
			return bad(field+".speaker", "must be agent or caller")
		}
		if !utf8.ValidString(e.Text) || strings.ContainsRune(e.Text, 0) || utf8.RuneCountInString(e.Text) > MaxEntryText {
			return bad(field+".text", "valid UTF-8 text of at most %d characters", MaxEntryText)
		}
		if e.At.Year() < 2000 || e.At.Year() > 3000 {
			return bad(field+".at", "required, a time")
		}
		entries[i].At = e.At.UTC()
		if l := e.Latency; l != nil && !l.valid() {
			return bad(field+".latency", "milliseconds, 0 to 3600000")
		}
	}
	return nil
}

// MergeTranscript returns stored with the entries of add whose Seq it does
// not have yet, sorted by Seq, and how many were added. An entry already
// stored is never replaced: a transcript grows by appending only.
func MergeTranscript(stored, add []TranscriptEntry) ([]TranscriptEntry, int) {
	have := make(map[int]bool, len(stored))
	for _, e := range stored {
		have[e.Seq] = true
	}
	out := append([]TranscriptEntry(nil), stored...)
	n := 0
	for _, e := range add {
		if !have[e.Seq] {
			have[e.Seq] = true
			out = append(out, e)
			n++
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, n
}
