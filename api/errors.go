package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/voxplatform/vox/api/auth"
	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/store"
	"github.com/voxplatform/vox/svcauth"
)

// HTTPError is an error with the status and message the client is told; Err
// (logged, never sent) carries the detail.
type HTTPError struct {
	Status     int
	Msg        string
	Err        error
	RetryAfter time.Duration
}

// Error describes the error for logs, detail included.
func (e *HTTPError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %v", e.Status, e.Msg, e.Err)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Msg)
}

// Unwrap returns the logged detail.
func (e *HTTPError) Unwrap() error { return e.Err }

func httpErr(status int, format string, a ...any) *HTTPError {
	return &HTTPError{Status: status, Msg: fmt.Sprintf(format, a...)}
}

func badRequest(format string, a ...any) *HTTPError {
	return httpErr(http.StatusBadRequest, format, a...)
}

var (
	errNotFound  = httpErr(http.StatusNotFound, "not found")
	errForbidden = httpErr(http.StatusForbidden, "forbidden")
)

// errRedis marks a failed Redis call; the client is told 503.
var errRedis = errors.New("redis unavailable")

// redisErr wraps err from a Redis call for the error handler.
func redisErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w: %w", op, errRedis, err)
}

// errorHandler turns every error a handler returns into {"error": "..."}
// with its status, and logs the detail.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	status, msg := http.StatusInternalServerError, "internal error"
	var he *HTTPError
	var fe *store.FieldError
	var fiberErr *fiber.Error
	var se *json.SyntaxError
	switch {
	case errors.As(err, &he):
		status, msg = he.Status, he.Msg
		if he.RetryAfter > 0 {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(he.RetryAfter.Seconds()+0.999)))
		}
	case errors.As(err, &fe):
		status, msg = http.StatusBadRequest, fe.Error()
	case errors.Is(err, store.ErrNotFound):
		status, msg = http.StatusNotFound, "not found"
	case errors.Is(err, store.ErrConflict):
		status, msg = http.StatusConflict, "conflict: it already exists or was changed meanwhile"
	case errors.Is(err, store.ErrUnavailable):
		status, msg = http.StatusServiceUnavailable, "database unavailable"
		c.Set(fiber.HeaderRetryAfter, retryAfterUnavailable)
	case errors.Is(err, errRedis):
		status, msg = http.StatusServiceUnavailable, "cache unavailable"
		c.Set(fiber.HeaderRetryAfter, retryAfterUnavailable)
	case errors.Is(err, auth.ErrUnauthorized), errors.Is(err, svcauth.ErrUnauthorized):
		status, msg = http.StatusUnauthorized, "unauthorized"
	case errors.As(err, &fiberErr):
		status, msg = fiberErr.Code, fiberErr.Message
	case errors.As(err, &se):
		status, msg = http.StatusBadRequest, "malformed JSON"
	}
	lvl := slog.LevelDebug
	if status >= 500 {
		lvl = slog.LevelError
	}
	s.logger.Log(c.UserContext(), lvl, "request failed", "method", c.Method(), "path", c.Path(),
		"status", status, "err", err)
	return c.Status(status).JSON(fleetapi.ErrorBody{Error: msg})
}

// withErr attaches the detail to log.
func (e *HTTPError) withErr(err error) *HTTPError {
	e2 := *e
	e2.Err = err
	return &e2
}
