package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	lkauth "github.com/livekit/protocol/auth"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/store"
)

// widgetSession is the answer of POST /api/v1/agents/{id}/widget: what a
// browser needs to join the call's LiveKit room as the caller.
type widgetSession struct {
	CallID    string    `json:"call_id"`
	URL       string    `json:"url"`      // the LiveKit server (LIVEKIT_URL)
	Room      string    `json:"room"`     // the call's room
	Identity  string    `json:"identity"` // the browser's participant identity
	Token     string    `json:"token"`    // LiveKit join token for Room as Identity
	ExpiresAt time.Time `json:"expires_at"`
}

// FleetCaller asks a fleet host to take a call (POST /livekit/widget on
// the host's nginx, which passes it to a free worker). An error from the
// host is a *fleetapi.Error.
type FleetCaller interface {
	Widget(ctx context.Context, fleet store.Fleet, req fleetapi.WidgetRequest) error
}

// SetFleetCaller replaces how the Backend reaches fleet hosts (tests).
func (s *Server) SetFleetCaller(fc FleetCaller) { s.fleetCaller = fc }

// httpFleetCaller is the FleetCaller of a running Backend: the fleet's
// client over the poller's HTTP clients (the address policy applies), with
// service tokens scoped to the fleet.
type httpFleetCaller struct {
	s *Server
}

func (h httpFleetCaller) Widget(ctx context.Context, f store.Fleet, req fleetapi.WidgetRequest) error {
	c, err := fleetapi.New(f.URL, fleetapi.WithHTTPClient(h.s.poller.Client(f)),
		fleetapi.WithFleetToken(h.s.cfg.ServiceSecret, f.ID, "voxbridge"))
	if err != nil {
		return err
	}
	_, err = c.Widget(ctx, req)
	return err
}

func (s *Server) widgetRoutes() {
	s.add(routeInfo{Method: http.MethodPost, Path: "/api/v1/agents/:id/widget",
		Summary: "Start a browser widget call with an agent: a fleet joins the call's LiveKit room; the answer is the browser's join token",
		Tag:     "calls", Access: accessUser, Role: store.RoleOperator, Out: widgetSession{}}, s.startWidget)
}

// startWidget selects a fleet, asks it to take the call, and mints the
// browser's LiveKit join token.
func (s *Server) startWidget(c *fiber.Ctx) error {
	lk := s.cfg.LiveKit
	if !lk.Enabled() {
		return httpErr(http.StatusServiceUnavailable,
			"widget calls are off: LiveKit is not configured (LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET)")
	}
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	p := principal(c)
	ctx := c.UserContext()
	agent, err := store.FindOne[store.Agent](ctx, s.store, store.CollAgents, bson.M{"_id": id, "org_id": p.OrgID})
	if err != nil {
		return err
	}
	fleet, _, err := s.pickFleet(ctx, p.OrgID)
	if err != nil {
		return err
	}
	callID := "web-" + store.NewID()
	call := fleetapi.WidgetRequest{CallID: callID, Room: callID, Identity: "caller-" + callID, AgentID: agent.ID, OrgID: p.OrgID}
	if err := call.Validate(); err != nil {
		return fmt.Errorf("widget request: %w", err)
	}
	expires := time.Now().Add(lk.TokenTTL).UTC().Truncate(time.Second)
	grant := &lkauth.VideoGrant{RoomJoin: true, Room: call.Room}
	grant.SetCanPublish(true)
	grant.SetCanSubscribe(true)
	grant.SetCanPublishData(false)
	token, err := lkauth.NewAccessToken(lk.APIKey, lk.APISecret).
		SetIdentity(call.Identity).SetName("Widget caller").
		SetVideoGrant(grant).SetValidFor(lk.TokenTTL).ToJWT()
	if err != nil {
		return fmt.Errorf("mint widget token: %w", err)
	}
	// The record exists before the fleet's first write, so the call shows
	// at once; the worker's writes move it on.
	rec := runtimeapi.CallRecord{Status: runtimeapi.CallQueued, Direction: runtimeapi.Inbound,
		Carrier: runtimeapi.CarrierWidget, FleetURL: fleet.URL, StartedAt: time.Now().UTC().Truncate(time.Millisecond)}
	if _, err := s.store.UpsertCall(ctx, store.CallUpdate{CallID: callID, OrgID: p.OrgID, AgentID: agent.ID,
		Status: rec.Status, Set: store.RecordSet(rec)}); err != nil {
		return err
	}
	if err := s.fleetCaller.Widget(ctx, fleet, call); err != nil {
		s.failWidget(callID, err)
		if st := fleetapi.StatusOf(err); st == http.StatusTooManyRequests || st == http.StatusServiceUnavailable {
			return httpErr(http.StatusServiceUnavailable, "no fleet has a free slot").withErr(err)
		}
		return httpErr(http.StatusBadGateway, "the fleet did not take the call").withErr(err)
	}
	return c.Status(http.StatusCreated).JSON(widgetSession{CallID: callID, URL: lk.URL, Room: call.Room,
		Identity: call.Identity, Token: token, ExpiresAt: expires})
}

// failWidget ends the record of a widget call no fleet took.
func (s *Server) failWidget(callID string, cause error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := time.Now().UTC().Truncate(time.Millisecond)
	rec := runtimeapi.CallRecord{Status: runtimeapi.CallFailed, EndCause: runtimeapi.EndError,
		Error: "no fleet took the call", EndedAt: now}
	if _, err := s.store.UpsertCall(ctx, store.CallUpdate{CallID: callID, Status: rec.Status, Set: store.RecordSet(rec)}); err != nil {
		s.logger.Warn("record failed widget call", "call_id", callID, "err", err, "cause", cause)
	}
}
