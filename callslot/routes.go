package callslot

import (
	"errors"
	"net/http"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/voxplatform/vox/fleetapi"
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
	if w.cfg.LiveKitURL == "" || w.cfg.Rooms == nil {
		return w.unavailable(req.CallID)
	}
	gen, err := w.slot.acquire(req.CallID)
	switch {
	case errors.Is(err, errSameCall):
		return c.Status(http.StatusAccepted).JSON(fleetapi.CallResponse{CallID: req.CallID, Status: fleetapi.CallRunning, Room: req.Room})
	case err != nil:
		return admissionError(err)
	}
	leg, err := w.cfg.Rooms.AttachLeg(req)
	if err != nil {
		w.slot.release(gen)
		return errorf(http.StatusInternalServerError, "cannot join the room", err)
	}
	w.slot.claim(gen)
	call := w.newCall(gen, "attach", leg)
	call.begin(CallInfo{ID: req.CallID, AgentID: req.AgentID, Parameters: req.Metadata})
	go call.run()
	return c.Status(http.StatusAccepted).JSON(fleetapi.CallResponse{CallID: req.CallID, Status: fleetapi.CallAccepted, Room: req.Room})
}

func (w *Worker) dialout(c *fiber.Ctx) error {
	var req fleetapi.DialoutRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	return w.unavailable("")
}

func (w *Worker) widget(c *fiber.Ctx) error {
	var req fleetapi.WidgetRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	return w.unavailable("")
}

func (w *Worker) dispatch(c *fiber.Ctx) error {
	var req fleetapi.DispatchRequest
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
