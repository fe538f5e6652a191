package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"github.com/voxplatform/vox/api/auth"
)

// A browser's EventSource cannot send an Authorization header. It opens
// the event stream with a stream ticket instead: a random id, obtained with
// the caller's credentials from POST /api/v1/events/ticket, that opens one
// stream of the caller's organisation, once, within StreamTicketTTL. The
// long-lived credentials never travel in a URL; the ticket in the URL is
// worthless once used or a few seconds old.

// StreamTicketTTL is how long an unused stream ticket stays valid.
const StreamTicketTTL = 30 * time.Second

func ticketKey(id string) string { return "vox:events:ticket:" + id }

// streamTicket is what POST /api/v1/events/ticket returns.
type streamTicket struct {
	// Ticket opens one event stream: GET /api/v1/events?ticket=….
	Ticket string `json:"ticket"`
	// ExpiresIn is how many seconds the ticket stays valid if unused.
	ExpiresIn int `json:"expires_in"`
}

// ticketPrincipal is who a stored ticket stands for.
type ticketPrincipal struct {
	UserID   string    `json:"user_id,omitempty"`
	APIKeyID string    `json:"api_key_id,omitempty"`
	OrgID    string    `json:"org_id"`
	Role     string    `json:"role"`
	TokenID  string    `json:"token_id,omitempty"`
	IssuedMs int64     `json:"issued_ms,omitempty"`
	Expires  time.Time `json:"expires"`
	KeyOwner string    `json:"key_owner,omitempty"`
	Scopes   []string  `json:"scopes,omitempty"`
}

// newStreamTicket stores a ticket for the caller.
func (s *Server) newStreamTicket(c *fiber.Ctx) error {
	p := principal(c)
	b, err := json.Marshal(ticketPrincipal{UserID: p.UserID, APIKeyID: p.APIKeyID, OrgID: p.OrgID, Role: p.Role,
		TokenID: p.TokenID, IssuedMs: p.IssuedMs, Expires: p.Expires, KeyOwner: p.KeyOwner, Scopes: p.Scopes})
	if err != nil {
		return fmt.Errorf("encode stream ticket: %w", err)
	}
	id := auth.RandomID()
	if err := s.rdb.Set(c.UserContext(), ticketKey(id), b, StreamTicketTTL).Err(); err != nil {
		return redisErr("store stream ticket", err)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(streamTicket{Ticket: id, ExpiresIn: int(StreamTicketTTL.Seconds())})
}

// authenticateStream accepts the credentials authenticate accepts or, when
// the request has none, a stream ticket in the query, which it consumes.
func (s *Server) authenticateStream(c *fiber.Ctx) error {
	id := c.Query("ticket")
	if id == "" || c.Get(fiber.HeaderAuthorization) != "" || c.Get("X-API-Key") != "" {
		return s.authenticate(c)
	}
	if len(id) > 64 {
		return fmt.Errorf("%w: stream ticket: malformed", auth.ErrUnauthorized)
	}
	ctx := c.UserContext()
	raw, err := s.rdb.GetDel(ctx, ticketKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("%w: stream ticket unknown, used or expired", auth.ErrUnauthorized)
	} else if err != nil {
		return redisErr("read stream ticket", err)
	}
	var tp ticketPrincipal
	if err := json.Unmarshal(raw, &tp); err != nil {
		return fmt.Errorf("decode stream ticket: %w", err)
	}
	p := &auth.Principal{UserID: tp.UserID, APIKeyID: tp.APIKeyID, OrgID: tp.OrgID, Role: tp.Role, TokenID: tp.TokenID,
		IssuedMs: tp.IssuedMs, Expires: tp.Expires, KeyOwner: tp.KeyOwner, Scopes: tp.Scopes}
	// The credentials the ticket was made with may have been revoked since.
	if err := s.stillValid(ctx, p); err != nil {
		return err
	}
	c.Locals(localPrincipal, p)
	return c.Next()
}
