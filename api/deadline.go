package api

import (
	"context"

	"github.com/gofiber/fiber/v2"
)

// retryAfterUnavailable is what a 503 for an unavailable database or cache
// asks the client to wait, in seconds.
const retryAfterUnavailable = "5"

// deadline gives every request's handler REQUEST_TIMEOUT: its context ends
// then, so a database that does not answer costs the client a 503 with
// Retry-After, not a hung request. An event stream's own lifetime is not
// bounded by it (the stream runs after its handler returns).
func (s *Server) deadline(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), s.cfg.RequestTimeout)
	defer cancel()
	c.SetUserContext(ctx)
	return c.Next()
}
