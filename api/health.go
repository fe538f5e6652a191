package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
)

// healthBody is GET /health's answer. When a dependency is down, Error
// names it (the one error shape) and its field says why.
type healthBody struct {
	Status  string `json:"status"`
	MongoDB string `json:"mongodb"`
	Redis   string `json:"redis"`
	Error   string `json:"error,omitempty"`
}

// health checks MongoDB and Redis on every call, so it recovers by itself.
func (s *Server) health(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 1500*time.Millisecond)
	defer cancel()
	b := healthBody{Status: "ok", MongoDB: "ok", Redis: "ok"}
	mc := make(chan error, 1)
	go func() { mc <- s.store.Ping(ctx) }()
	rerr := s.rdb.Ping(ctx).Err()
	merr := <-mc
	var down []string
	if merr != nil {
		b.MongoDB = "down: " + merr.Error()
		down = append(down, "mongodb")
	}
	if rerr != nil {
		b.Redis = "down: " + rerr.Error()
		down = append(down, "redis")
	}
	if len(down) == 0 {
		return c.JSON(b)
	}
	b.Status = "unavailable"
	b.Error = down[0] + " unreachable"
	if len(down) == 2 {
		b.Error = "mongodb and redis unreachable"
	}
	return c.Status(http.StatusServiceUnavailable).JSON(b)
}
