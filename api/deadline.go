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

// bulkContext is the context of a bulk contacts request (an upload or an
// export of up to tens of thousands of rows): BULK_REQUEST_TIMEOUT from now,
// in place of REQUEST_TIMEOUT.
func (s *Server) bulkContext(c *fiber.Ctx) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(c.UserContext()), s.cfg.BulkRequestTimeout)
}
