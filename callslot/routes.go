package callslot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/voxplatform/vox/lifeline"
)

// AttachRequest is the body of POST /attach: the Dialler hands over an
// answered outbound call waiting in a LiveKit room.
type AttachRequest struct {
	CallID      string            `json:"call_id"`               // required; the idempotency key
	Room        string            `json:"room"`                  // required; LiveKit room holding the call
	Participant string            `json:"participant,omitempty"` // the callee's participant identity
	AgentID     string            `json:"agent_id,omitempty"`
	CampaignID  string            `json:"campaign_id,omitempty"`
	ContactID   string            `json:"contact_id,omitempty"`
	To          string            `json:"to,omitempty"` // number dialled, E.164
	Metadata    map[string]string `json:"metadata,omitempty"`
}

// DialoutRequest is the body of POST /livekit/dialout: place an outbound
// SIP call through LiveKit and run the agent on it.
type DialoutRequest struct {
	CallID  string `json:"call_id"` // required
	To      string `json:"to"`      // required, E.164
	From    string `json:"from,omitempty"`
	TrunkID string `json:"trunk_id,omitempty"`
	AgentID string `json:"agent_id,omitempty"`
}

// WidgetRequest is the body of POST /livekit/widget: join a browser
// widget's LiveKit room.
type WidgetRequest struct {
	CallID   string `json:"call_id"` // required
	Room     string `json:"room"`    // required
	Identity string `json:"identity,omitempty"`
	AgentID  string `json:"agent_id,omitempty"`
}

// DispatchRequest is the part of a LiveKit webhook that POST
// /livekit/dispatch reads.
type DispatchRequest struct {
	Event string `json:"event"` // required
	Room  *struct {
		Name string `json:"name"`
	} `json:"room,omitempty"`
	Participant *struct {
		Identity string `json:"identity"`
	} `json:"participant,omitempty"`
}

// AttachResponse is the 202 body of /attach.
type AttachResponse struct {
	CallID string `json:"call_id"`
	Status string `json:"status"` // "accepted", or "running" for a repeated request
}

var (
	idPattern    = regexp.MustCompile(`^[A-Za-z0-9_.:@-]{1,128}$`)
	e164Pattern  = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	errNoLiveKit = errorf(http.StatusServiceUnavailable, "livekit not configured", nil)
)

func checkID(field, v string, required bool) error {
	if v == "" && !required {
		return nil
	}
	if !idPattern.MatchString(v) {
		return fmt.Errorf("%s: must be 1-128 characters of A-Z a-z 0-9 _ . : @ -", field)
	}
	return nil
}

func (r *AttachRequest) validate() error {
	if len(r.Metadata) > 32 {
		return errors.New("metadata: at most 32 entries")
	}
	return errors.Join(checkID("call_id", r.CallID, true), checkID("room", r.Room, true),
		checkID("participant", r.Participant, false), checkID("agent_id", r.AgentID, false),
		checkID("campaign_id", r.CampaignID, false), checkID("contact_id", r.ContactID, false),
		checkE164("to", r.To, false))
}

func (r *DialoutRequest) validate() error {
	return errors.Join(checkID("call_id", r.CallID, true), checkE164("to", r.To, true),
		checkE164("from", r.From, false), checkID("trunk_id", r.TrunkID, false), checkID("agent_id", r.AgentID, false))
}

func (r *WidgetRequest) validate() error {
	return errors.Join(checkID("call_id", r.CallID, true), checkID("room", r.Room, true),
		checkID("identity", r.Identity, false), checkID("agent_id", r.AgentID, false))
}

func (r *DispatchRequest) validate() error {
	if r.Event == "" {
		return errors.New("event: required")
	}
	return nil
}

func checkE164(field, v string, required bool) error {
	if v == "" && !required {
		return nil
	}
	if !e164Pattern.MatchString(v) {
		return fmt.Errorf("%s: must be an E.164 number like +441234567890", field)
	}
	return nil
}

type validator interface{ validate() error }

// decodeBody reads the request body as one JSON object into v and validates
// it: malformed JSON is 400, wrong types and invalid values are 422.
func decodeBody(c *fiber.Ctx, v validator) error {
	body := bytes.TrimSpace(c.Body())
	if len(body) == 0 {
		return errorf(http.StatusBadRequest, "empty body", nil)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return errorf(http.StatusUnprocessableEntity, fmt.Sprintf("field %q: want %s", te.Field, te.Type), err)
		}
		return errorf(http.StatusBadRequest, "malformed JSON", err)
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "malformed JSON", errors.New("trailing data after object"))
	}
	if err := v.validate(); err != nil {
		return errorf(http.StatusUnprocessableEntity, err.Error(), nil)
	}
	return nil
}

func admissionError(err error) error {
	return errorf(http.StatusTooManyRequests, "busy", err)
}

func (w *Worker) attach(c *fiber.Ctx) error {
	var req AttachRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if w.cfg.LiveKitURL == "" || w.cfg.Rooms == nil {
		return w.unavailable(req.CallID)
	}
	gen, err := w.slot.acquire(req.CallID)
	switch {
	case errors.Is(err, errSameCall):
		return c.Status(http.StatusAccepted).JSON(AttachResponse{CallID: req.CallID, Status: "running"})
	case err != nil:
		return admissionError(err)
	}
	w.slot.claim(gen)
	w.callStarted(req.CallID)
	go w.runAttached(gen, req)
	return c.Status(http.StatusAccepted).JSON(AttachResponse{CallID: req.CallID, Status: "accepted"})
}

// runAttached carries an attached call until it ends, then frees the slot.
func (w *Worker) runAttached(gen uint64, req AttachRequest) {
	rec := CallRecord{CallID: req.CallID, Source: "attach", AgentID: req.AgentID, Parameters: req.Metadata,
		Started: time.Now(), Outcome: lifeline.OutcomeCompleted, Reason: "call ended"}
	defer func() {
		if p := recover(); p != nil {
			rec.Outcome, rec.Reason = lifeline.OutcomeFailed, fmt.Sprintf("panic: %v", p)
		}
		rec.Ended = time.Now()
		w.callEnded(rec)
		w.slot.release(gen)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.MaxCallDuration)
	defer cancel()
	err := w.cfg.Rooms.Serve(ctx, req, w.cfg.Agent)
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		rec.Reason = "max call duration"
	case err != nil:
		rec.Outcome, rec.Reason = lifeline.OutcomeFailed, err.Error()
	}
}

func (w *Worker) dialout(c *fiber.Ctx) error {
	var req DialoutRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	return w.unavailable("")
}

func (w *Worker) widget(c *fiber.Ctx) error {
	var req WidgetRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	return w.unavailable("")
}

func (w *Worker) dispatch(c *fiber.Ctx) error {
	var req DispatchRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	return w.unavailable("")
}

// unavailable answers a call-taking route that cannot run calls yet (no
// LiveKit): 429 when busy, as a working route would, else 503 without
// taking the slot.
func (w *Worker) unavailable(callID string) error {
	switch err := w.slot.check(callID); {
	case errors.Is(err, errSameCall):
		return errNoLiveKit
	case err != nil:
		return admissionError(err)
	}
	return errNoLiveKit
}

// admitStream takes the slot for a WebSocket stream before the upgrade, so
// a busy worker answers 429 over plain HTTP. If the upgrade fails or the
// stream never begins, the slot is freed.
func (w *Worker) admitStream(c *fiber.Ctx) error {
	if !websocket.IsWebSocketUpgrade(c) {
		return errorf(http.StatusUpgradeRequired, "websocket upgrade required", nil)
	}
	gen, err := w.slot.acquire("")
	if err != nil {
		return admissionError(err)
	}
	w.slot.expireUnclaimed(gen, handshakeTimeout)
	c.Locals(localGen, gen)
	if err := c.Next(); err != nil {
		w.slot.releaseUnclaimed(gen)
		return err
	}
	return nil
}

const localGen = "slot_gen"
