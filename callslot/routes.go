package callslot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/lifeline"
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
	w.slot.claim(gen)
	w.callStarted(req.CallID)
	go w.runAttached(gen, req)
	return c.Status(http.StatusAccepted).JSON(fleetapi.CallResponse{CallID: req.CallID, Status: fleetapi.CallAccepted, Room: req.Room})
}

// runAttached carries an attached call until it ends, then frees the slot.
func (w *Worker) runAttached(gen uint64, req fleetapi.AttachRequest) {
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
