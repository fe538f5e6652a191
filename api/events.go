package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/voxplatform/vox/api/auth"
	"github.com/voxplatform/vox/api/fleetpoll"
	"github.com/voxplatform/vox/store"
)

func eventsChannel(orgID string) string { return "vox:events:" + orgID }

// Event types on the stream, with the type of each one's data: what the
// OpenAPI document declares as the stream's payloads (components.schemas
// CallEvent, CampaignEvent, FleetEvent; Event is any of them).
var eventPayloads = []struct {
	Type   string
	Schema string
	Data   any
}{
	{"call", "CallEvent", store.Call{}},             // a call record changed
	{"campaign", "CampaignEvent", store.Campaign{}}, // a campaign started, paused, changed
	{"fleet", "FleetEvent", fleetpoll.Capacity{}},   // a fleet host's reading changed (with its workers)
}

// streamEnds are the events that end a stream; their data is {}.
var streamEnds = []streamEnd{endShutdown, endUnauthorized, endOverflow}

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

// credentialsChanged tells the organisation's open event streams, in every
// voxbridge process, to check their credentials again now (a logout, a
// user changed or deleted, an API key changed or deleted). Streams also
// check every EVENTS_RECHECK_INTERVAL, so a lost message delays the end of
// a stream, never prevents it.
func (s *Server) credentialsChanged(ctx context.Context, orgID string) {
	s.publish(ctx, orgID, typeCredentialsChanged, struct{}{})
}

// heartbeat is how often an idle event stream sends a comment, which also
// finds clients that went away.
const heartbeat = 15 * time.Second

// streamEnd is why a stream ended, sent to the client as the last event.
type streamEnd string

const (
	endShutdown     streamEnd = "shutdown"     // voxbridge is stopping
	endUnauthorized streamEnd = "unauthorized" // the credentials were revoked, expired or narrowed
	endOverflow     streamEnd = "overflow"     // the client read too slowly
)

// events streams the caller's organisation's call, campaign and fleet
// changes as Server-Sent Events. The stream ends when the caller's
// credentials stop being valid: checked on every credentials change of the
// organisation and at least every EVENTS_RECHECK_INTERVAL.
func (s *Server) events(c *fiber.Ctx) error {
	p := principal(c)
	who := "user:" + p.UserID
	if p.APIKeyID != "" {
		who = "key:" + p.APIKeyID
	}
	st, err := s.hub.join(c.UserContext(), p.OrgID, who)
	var le *errStreamLimit
	if errors.As(err, &le) {
		return streamLimitErr(le)
	} else if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Accel-Buffering", "no")
	logger := s.logger.With("org_id", p.OrgID, "stream_of", who)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer s.hub.leave(st)
		end := s.stream(w, st, p, logger)
		if end != "" {
			fmt.Fprintf(w, "event: %s\ndata: {}\n\n", end)
			_ = w.Flush()
			logger.Debug("event stream ended", "reason", string(end))
		}
	})
	return nil
}

// stream writes events until the client goes away ("") or a reason to end
// the stream arises.
func (s *Server) stream(w *bufio.Writer, st *stream, p *auth.Principal, logger *slog.Logger) streamEnd {
	ping := time.NewTicker(heartbeat)
	defer ping.Stop()
	recheck := time.NewTicker(s.cfg.EventsRecheck)
	defer recheck.Stop()
	expiry := time.NewTimer(time.Until(p.Expires))
	defer expiry.Stop()
	valid := func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
		defer cancel()
		err := s.stillValid(ctx, p)
		if err != nil && !errors.Is(err, auth.ErrUnauthorized) {
			// Revocation cannot be checked: fail closed; the client
			// reconnects when the stores answer again.
			logger.Warn("event stream: cannot check credentials; ending it", "err", err)
		}
		return err == nil
	}
	if _, err := fmt.Fprint(w, ": connected\n\n"); err != nil || w.Flush() != nil {
		return ""
	}
	for {
		select {
		case <-s.stopping:
			return endShutdown
		case m := <-st.msgs:
			var e struct {
				Type string `json:"type"`
			}
			_ = json.Unmarshal([]byte(m), &e)
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.Type, m)
		case <-st.kick:
			if st.overflow.Load() {
				return endOverflow
			}
			if !valid() {
				return endUnauthorized
			}
			continue
		case <-recheck.C:
			if !valid() {
				return endUnauthorized
			}
			continue
		case <-expiry.C:
			return endUnauthorized
		case <-ping.C:
			fmt.Fprint(w, ": ping\n\n")
		}
		if err := w.Flush(); err != nil {
			logger.Debug("event stream closed", "err", err)
			return ""
		}
	}
}
