package callslot

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/voxplatform/vox/carrier"
	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/runtimeapi"
)

var errNoLiveKit = errorf(http.StatusServiceUnavailable, "livekit not configured", nil)

// decodeBody reads the request body as one JSON object into v and validates
// it (fleetapi.Decode): malformed JSON is 400, wrong types and invalid values
// are 422.
func decodeBody(c *fiber.Ctx, v fleetapi.Validator) error {
	return fleetapi.Decode(c.Body(), v)
}

func admissionError(err error) error {
	return errorf(http.StatusTooManyRequests, "busy", err)
}

func (w *Worker) attach(c *fiber.Ctx) error {
	var req fleetapi.AttachRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if w.cfg.Rooms == nil {
		return w.unavailable(req.CallID)
	}
	return w.startCall(c, req.CallID, req.Room, "attach", func() (Leg, error) { return w.cfg.Rooms.AttachLeg(req) },
		func(r *CallRecord) {
			r.AgentID, r.CampaignID, r.ContactID, r.To, r.Room = req.AgentID, req.CampaignID, req.ContactID, req.To, req.Room
			r.Parameters = req.Metadata
		})
}

func (w *Worker) dialout(c *fiber.Ctx) error {
	var req fleetapi.DialoutRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if w.cfg.Rooms == nil {
		return w.unavailable(req.CallID)
	}
	return w.startCall(c, req.CallID, req.Room, "dialout", func() (Leg, error) { return w.cfg.Rooms.DialoutLeg(req) },
		func(r *CallRecord) {
			r.AgentID, r.From, r.To, r.Room, r.Parameters = req.AgentID, req.From, req.To, req.Room, req.Metadata
		})
}

func (w *Worker) widget(c *fiber.Ctx) error {
	var req fleetapi.WidgetRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if w.cfg.Rooms == nil {
		return w.unavailable(req.CallID)
	}
	return w.startCall(c, req.CallID, req.Room, "widget", func() (Leg, error) { return w.cfg.Rooms.WidgetLeg(req) },
		func(r *CallRecord) { r.AgentID, r.Room = req.AgentID, req.Room })
}

// startCall admits the call callID (a repeated request for the call already
// running here is answered 202 again), makes its leg and runs it in the
// background: 202 at once.
func (w *Worker) startCall(c *fiber.Ctx, callID, room, source string, newLeg func() (Leg, error), fill func(*CallRecord)) error {
	gen, err := w.slot.acquire(callID)
	switch {
	case errors.Is(err, errSameCall):
		return c.Status(http.StatusAccepted).JSON(fleetapi.CallResponse{CallID: callID, Status: fleetapi.CallRunning, Room: room})
	case err != nil:
		return admissionError(err)
	}
	leg, err := newLeg()
	if err != nil {
		w.slot.release(gen)
		return errorf(http.StatusUnprocessableEntity, "cannot take the call: "+err.Error(), err)
	}
	w.slot.claim(gen)
	call := w.newCall(gen, source, leg)
	fill(&call.rec)
	call.begin(CallInfo{ID: callID, AgentID: call.rec.AgentID, Parameters: call.rec.Parameters})
	go call.run()
	return c.Status(http.StatusAccepted).JSON(fleetapi.CallResponse{CallID: callID, Status: fleetapi.CallAccepted, Room: room})
}

// dispatch takes an inbound SIP call announced by LiveKit's webhook. The
// request is authenticated by LiveKit's signature, not a service token.
// When busy it answers 429 and deletes the call's room, so the caller is
// not left ringing (nginx never retries this route).
func (w *Worker) dispatch(c *fiber.Ctx) error {
	if w.cfg.Rooms == nil {
		var req fleetapi.DispatchRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		return w.unavailable("")
	}
	in, ok, err := w.cfg.Rooms.Inbound(c.Body(), c.Get(fiber.HeaderAuthorization))
	switch {
	case err != nil:
		return errorf(http.StatusUnauthorized, "unauthorized", err)
	case !ok:
		return c.JSON(fleetapi.CallResponse{Status: fleetapi.CallIgnored})
	}
	refuse := func(status int, msg string, cause error) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := w.cfg.Rooms.Refuse(ctx, in); err != nil {
			w.log.Error("cannot remove a refused inbound call", "room", in.Room, "err", err)
		}
		return errorf(status, msg, cause)
	}
	gen, err := w.slot.acquire(in.ID())
	switch {
	case errors.Is(err, errSameCall):
		return c.Status(http.StatusAccepted).JSON(fleetapi.CallResponse{CallID: in.ID(), Status: fleetapi.CallRunning, Room: in.Room})
	case err != nil:
		return refuse(http.StatusTooManyRequests, "busy", err)
	}
	var cfg *runtimeapi.Agent
	if w.cfg.Agents != nil && in.To != "" {
		a, _, err := w.cfg.Agents.AgentByNumber(c.UserContext(), in.To)
		if err != nil {
			w.slot.release(gen)
			return refuse(http.StatusServiceUnavailable, "no agent for the number called", err)
		}
		cfg = &a
	}
	leg, err := w.cfg.Rooms.InboundLeg(in)
	if err != nil {
		w.slot.release(gen)
		return refuse(http.StatusInternalServerError, "cannot take the call", err)
	}
	w.slot.claim(gen)
	call := w.newCall(gen, "dispatch", leg)
	call.agentCfg = cfg
	call.rec.To, call.rec.From, call.rec.Room = in.To, in.From, in.Room
	agentID := ""
	if cfg != nil {
		agentID = cfg.ID
	}
	call.begin(CallInfo{ID: in.ID(), AgentID: agentID})
	go call.run()
	return c.Status(http.StatusAccepted).JSON(fleetapi.CallResponse{CallID: in.ID(), Status: fleetapi.CallAccepted, Room: in.Room})
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

// streamRoutes serves GET /ws/<carrier> for every carrier protocol: one
// stream leg, the carrier's codec.
func (w *Worker) streamRoutes(app *fiber.App) {
	for _, name := range carrier.Names() {
		p := carrier.Protocols()[name]
		app.Get(fleetapi.StreamPath(name), w.authenticate(true), w.admitStream, websocket.New(w.serveStream(p), websocket.Config{
			HandshakeTimeout: handshakeTimeout,
			ReadBufferSize:   4096,
			WriteBufferSize:  4096,
			RecoverHandler:   func(*websocket.Conn) {}, // the call recovers itself
		}))
	}
}
