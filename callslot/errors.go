package callslot

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/voxplatform/vox/fleetapi"
)

// errorf returns the error a handler returns to answer with status and
// {"error": msg}; err, when set, is logged but never shown to the client.
func errorf(status int, msg string, err error) *fleetapi.Error {
	return fleetapi.Errorf(status, msg, err)
}

// handleError is the app's one error handler: typed errors become their
// status and message, fiber's own errors keep their status with a short
// message, anything else is a 500 whose detail is logged only.
func (w *Worker) handleError(c *fiber.Ctx, err error) error {
	status, msg := http.StatusInternalServerError, "internal error"
	var he *fleetapi.Error
	var fe *fiber.Error
	switch {
	case errors.As(err, &he):
		status, msg = he.Status, he.Message
	case errors.As(err, &fe):
		status = fe.Code
		msg = fiberMessage(fe)
	}
	level := slog.LevelInfo
	if status >= 500 && status != http.StatusServiceUnavailable {
		level = slog.LevelError
	}
	w.log.Log(c.UserContext(), level, "request refused",
		"method", c.Method(), "path", c.Path(), "status", status, "err", err)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Status(status).JSON(fleetapi.ErrorBody{Error: msg})
}

func fiberMessage(fe *fiber.Error) string {
	switch fe.Code {
	case http.StatusRequestEntityTooLarge:
		return "request body too large"
	case http.StatusNotFound:
		return "not found"
	case http.StatusMethodNotAllowed:
		return "method not allowed"
	case http.StatusUpgradeRequired:
		return "websocket upgrade required"
	case http.StatusUnsupportedMediaType:
		return fe.Message
	}
	if fe.Code >= 500 {
		return "internal error"
	}
	return http.StatusText(fe.Code)
}
