package fleetapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"
)

// BodyLimit bounds a request body of a worker route; larger ones get 413.
const BodyLimit = 64 << 10

// MaxRingTimeout bounds DialoutRequest.RingTimeoutS and
// WidgetRequest.WaitTimeoutS.
const MaxRingTimeout = 5 * time.Minute

// AttachRequest is the body of POST /attach: the Dialler hands over an
// answered outbound call waiting in a LiveKit room.
type AttachRequest struct {
	CallID      string            `json:"call_id"`               // required; the idempotency key
	Room        string            `json:"room"`                  // required; LiveKit room holding the call
	Participant string            `json:"participant,omitempty"` // the callee's participant identity
	AgentID     string            `json:"agent_id,omitempty"`
	OrgID       string            `json:"org_id,omitempty"`
	CampaignID  string            `json:"campaign_id,omitempty"`
	ContactID   string            `json:"contact_id,omitempty"`
	To          string            `json:"to,omitempty"` // number dialled, E.164
	Metadata    map[string]string `json:"metadata,omitempty"`
}

// DialoutRequest is the body of POST /livekit/dialout: place an outbound
// SIP call through LiveKit and run the agent on it. The worker answers 202
// at once; the outcome (answered, or failed with the SIP status) goes into
// the call record.
type DialoutRequest struct {
	CallID  string `json:"call_id"` // required; the idempotency key
	To      string `json:"to"`      // required, E.164
	From    string `json:"from,omitempty"`
	TrunkID string `json:"trunk_id,omitempty"` // LiveKit outbound SIP trunk; "" → the worker's default
	AgentID string `json:"agent_id,omitempty"`
	OrgID   string `json:"org_id,omitempty"`
	// Room names the LiveKit room to create; "" → derived from CallID.
	Room string `json:"room,omitempty"`
	// RingTimeoutS bounds ringing, in seconds; 0 → the worker's default.
	RingTimeoutS int               `json:"ring_timeout_s,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
}

// WidgetRequest is the body of POST /livekit/widget: join a browser
// widget's LiveKit room and wait for the caller.
type WidgetRequest struct {
	CallID   string `json:"call_id"` // required; the idempotency key
	Room     string `json:"room"`    // required
	Identity string `json:"identity,omitempty"`
	AgentID  string `json:"agent_id,omitempty"`
	OrgID    string `json:"org_id,omitempty"`
	// WaitTimeoutS bounds the wait for the browser caller, in seconds; 0 →
	// the worker's default.
	WaitTimeoutS int `json:"wait_timeout_s,omitempty"`
}

// DispatchRequest is the part of a LiveKit webhook event that POST
// /livekit/dispatch reads (LiveKit sends protobuf JSON; unknown fields are
// ignored). Its signature is checked with the LiveKit key and secret, not
// with a service token.
type DispatchRequest struct {
	Event       string          `json:"event"` // required
	ID          string          `json:"id,omitempty"`
	Room        *DispatchRoom   `json:"room,omitempty"`
	Participant *DispatchPerson `json:"participant,omitempty"`
}

// DispatchRoom is the room of a LiveKit webhook event.
type DispatchRoom struct {
	Name string `json:"name"`
	SID  string `json:"sid,omitempty"`
}

// DispatchPerson is the participant of a LiveKit webhook event; a SIP
// caller carries the called and calling numbers in its attributes
// (sip.trunkPhoneNumber, sip.phoneNumber).
type DispatchPerson struct {
	Identity   string            `json:"identity"`
	SID        string            `json:"sid,omitempty"`
	Kind       string            `json:"kind,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// CallStatus says whether a call-taking route started a call.
type CallStatus string

// Call statuses of CallResponse.
const (
	CallAccepted CallStatus = "accepted" // the call starts now
	CallRunning  CallStatus = "running"  // a repeated request: the same call already runs here
	CallIgnored  CallStatus = "ignored"  // a /livekit/dispatch event that announces no inbound call
)

// CallResponse is the 202 body of every call-taking route (/attach,
// /livekit/dialout, /livekit/widget, /livekit/dispatch).
type CallResponse struct {
	CallID string     `json:"call_id"`
	Status CallStatus `json:"status"`
	Room   string     `json:"room,omitempty"`
}

// Event names /livekit/dispatch acts on.
const (
	EventParticipantJoined = "participant_joined"
	EventRoomStarted       = "room_started"
)

var (
	idPattern   = regexp.MustCompile(`^[A-Za-z0-9_.:@-]{1,128}$`)
	e164Pattern = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
)

// CheckID checks an identifier field (call, room, agent…): 1-128 characters
// of A-Z a-z 0-9 _ . : @ -; "" passes unless required.
func CheckID(field, v string, required bool) error {
	if v == "" && !required {
		return nil
	}
	if !idPattern.MatchString(v) {
		return fmt.Errorf("%s: must be 1-128 characters of A-Z a-z 0-9 _ . : @ -", field)
	}
	return nil
}

// CheckE164 checks a phone number field; "" passes unless required.
func CheckE164(field, v string, required bool) error {
	if v == "" && !required {
		return nil
	}
	if !e164Pattern.MatchString(v) {
		return fmt.Errorf("%s: must be an E.164 number like +441234567890", field)
	}
	return nil
}

func checkMetadata(m map[string]string) error {
	if len(m) > 32 {
		return errors.New("metadata: at most 32 entries")
	}
	return nil
}

func checkSeconds(field string, v int) error {
	if v < 0 || time.Duration(v)*time.Second > MaxRingTimeout {
		return fmt.Errorf("%s: must be between 0 and %d", field, int(MaxRingTimeout/time.Second))
	}
	return nil
}

// Validate checks r's fields.
func (r *AttachRequest) Validate() error {
	return errors.Join(checkMetadata(r.Metadata), CheckID("call_id", r.CallID, true), CheckID("room", r.Room, true),
		CheckID("participant", r.Participant, false), CheckID("agent_id", r.AgentID, false),
		CheckID("org_id", r.OrgID, false), CheckID("campaign_id", r.CampaignID, false),
		CheckID("contact_id", r.ContactID, false), CheckE164("to", r.To, false))
}

// Validate checks r's fields.
func (r *DialoutRequest) Validate() error {
	return errors.Join(CheckID("call_id", r.CallID, true), CheckE164("to", r.To, true),
		CheckE164("from", r.From, false), CheckID("trunk_id", r.TrunkID, false), CheckID("agent_id", r.AgentID, false),
		CheckID("org_id", r.OrgID, false), CheckID("room", r.Room, false), checkSeconds("ring_timeout_s", r.RingTimeoutS),
		checkMetadata(r.Metadata))
}

// Validate checks r's fields.
func (r *WidgetRequest) Validate() error {
	return errors.Join(CheckID("call_id", r.CallID, true), CheckID("room", r.Room, true),
		CheckID("identity", r.Identity, false), CheckID("agent_id", r.AgentID, false),
		CheckID("org_id", r.OrgID, false), checkSeconds("wait_timeout_s", r.WaitTimeoutS))
}

// Validate checks r's fields.
func (r *DispatchRequest) Validate() error {
	if r.Event == "" {
		return errors.New("event: required")
	}
	return nil
}

// Validator is a request body that can check itself.
type Validator interface{ Validate() error }

// Decode reads body as one JSON object into v and validates it. Malformed
// JSON (or an empty body, or trailing data) is a 400, wrong types and
// invalid values a 422; either way the *Error says what is wrong in words
// fit for the client.
func Decode(body []byte, v Validator) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return &Error{Status: http.StatusBadRequest, Message: "empty body"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &Error{Status: http.StatusUnprocessableEntity, Message: fmt.Sprintf("field %q: want %s", te.Field, te.Type), Err: err}
		}
		return &Error{Status: http.StatusBadRequest, Message: "malformed JSON", Err: err}
	}
	if dec.More() {
		return &Error{Status: http.StatusBadRequest, Message: "malformed JSON", Err: errors.New("trailing data after object")}
	}
	if err := v.Validate(); err != nil {
		return &Error{Status: http.StatusUnprocessableEntity, Message: err.Error()}
	}
	return nil
}
