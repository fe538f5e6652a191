package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/voxplatform/vox/api/fleetpoll"
	"github.com/voxplatform/vox/phone"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/store"
)

func agentKey(id string) string { return "vox:rt:agent:" + id }
func numberKey(e string) string { return "vox:rt:num:" + e }

// runtimeAgent serves an agent's runtime config from the Redis cache,
// filling it from MongoDB on a miss. A Redis failure falls back to MongoDB.
func (s *Server) runtimeAgent(ctx context.Context, key string, load func() (store.Agent, error)) ([]byte, error) {
	b, err := s.rdb.Get(ctx, key).Bytes()
	if err == nil {
		return b, nil
	}
	cacheOK := errors.Is(err, redis.Nil)
	if !cacheOK {
		s.logger.Warn("agent cache read failed; reading MongoDB", "key", key, "err", err)
	}
	a, err := load()
	if err != nil {
		return nil, err
	}
	b, err = json.Marshal(a.Runtime())
	if err != nil {
		return nil, err
	}
	if cacheOK {
		if err := s.rdb.Set(ctx, key, b, s.cfg.AgentCacheTTL).Err(); err != nil {
			s.logger.Warn("agent cache write failed", "key", key, "err", err)
		}
	}
	return b, nil
}

func (s *Server) getRuntimeAgent(c *fiber.Ctx) error {
	id, err := pathID(c, "id")
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	b, err := s.runtimeAgent(ctx, agentKey(id), func() (store.Agent, error) {
		return store.FindOne[store.Agent](ctx, s.store, store.CollAgents, bson.M{"_id": id})
	})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(b)
}

func (s *Server) getRuntimeAgentByNumber(c *fiber.Ctx) error {
	raw, err := url.PathUnescape(c.Params("e164"))
	if err != nil {
		return errNotFound
	}
	e, err := phone.Normalize(raw, "")
	if err != nil {
		return badRequest("e164: %v", err)
	}
	ctx := c.UserContext()
	b, err := s.runtimeAgent(ctx, numberKey(e), func() (store.Agent, error) {
		// Only the verified registration of a number takes its calls.
		n, err := s.store.VerifiedNumber(ctx, e)
		if err != nil {
			return store.Agent{}, err
		}
		if n.InboundAgentID == "" {
			return store.Agent{}, store.ErrNotFound
		}
		return store.FindOne[store.Agent](ctx, s.store, store.CollAgents, bson.M{"_id": n.InboundAgentID, "org_id": n.OrgID})
	})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(b)
}

// invalidateAgent drops the cached config of an agent and of every number
// that answers with it.
func (s *Server) invalidateAgent(ctx context.Context, id string) {
	keys := []string{agentKey(id)}
	nums, err := s.store.NumbersOfAgent(ctx, id)
	if err != nil {
		s.logger.Warn("list numbers of agent for cache invalidation", "agent_id", id, "err", err)
	}
	for _, n := range nums {
		keys = append(keys, numberKey(n))
	}
	if err := s.rdb.Del(ctx, keys...).Err(); err != nil {
		s.logger.Warn("invalidate agent cache; entries expire by themselves", "agent_id", id, "err", err,
			"ttl", s.cfg.AgentCacheTTL.String())
	}
}

// invalidateNumbers drops the cached agent of each number.
func (s *Server) invalidateNumbers(ctx context.Context, nums ...string) {
	keys := make([]string, len(nums))
	for i, n := range nums {
		keys[i] = numberKey(n)
	}
	if len(keys) == 0 {
		return
	}
	if err := s.rdb.Del(ctx, keys...).Err(); err != nil {
		s.logger.Warn("invalidate number cache; entries expire by themselves", "numbers", nums, "err", err)
	}
}

// callResponse is a call record and whether the write changed it.
type callResponse struct {
	store.Call
	Applied  bool `json:"applied"`  // the status and fields were written (false: stale)
	Appended int  `json:"appended"` // transcript entries that were new
}

// putCall creates or updates a call record, idempotently and never moving
// a call backwards (see store.UpsertCall).
func (s *Server) putCall(c *fiber.Ctx) error {
	callID := c.Params("call_id")
	if !runtimeapi.ValidCallID(callID) {
		return badRequest("call_id: 1 to 128 letters, digits and _.:-")
	}
	var in runtimeapi.CallRecord
	if err := s.decode(c, &in); err != nil {
		return err
	}
	if err := in.Validate(); err != nil {
		return err
	}
	set := store.RecordSet(in)
	ctx := c.UserContext()
	var orgID, agentID string
	var err error
	if in.AgentID != "" {
		agentID = in.AgentID
		b, err := s.runtimeAgent(ctx, agentKey(agentID), func() (store.Agent, error) {
			return store.FindOne[store.Agent](ctx, s.store, store.CollAgents, bson.M{"_id": agentID})
		})
		if errors.Is(err, store.ErrNotFound) {
			return badRequest("agent_id: no such agent")
		} else if err != nil {
			return err
		}
		var a struct {
			OrgID string `json:"org_id"`
		}
		if err := json.Unmarshal(b, &a); err != nil {
			return err
		}
		orgID = a.OrgID
	} else {
		orgID, agentID, err = s.store.CallOrg(ctx, callID)
		if errors.Is(err, store.ErrNotFound) {
			return badRequest("agent_id: required for a new call")
		} else if err != nil {
			return err
		}
	}
	res, err := s.store.UpsertCall(ctx, store.CallUpdate{CallID: callID, OrgID: orgID, AgentID: agentID,
		Status: in.Status, Set: set, Transcript: in.Transcript})
	if err != nil {
		return err
	}
	outcome := "updated"
	switch {
	case res.Created:
		outcome = "created"
	case !res.Applied && res.Appended == 0 && !res.Attached:
		outcome = "stale"
	}
	s.metrics.calls.WithLabelValues(outcome).Inc()
	if res.Applied || res.Appended > 0 || res.Attached {
		// The record without its transcript, which grows with every turn
		// (GET /api/v1/calls/{id} has it).
		s.publish(ctx, res.Call.OrgID, "call", res.Call)
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	return c.Status(status).JSON(callResponse{Call: res.Call, Applied: res.Applied, Appended: res.Appended})
}

// selectFleet returns a fleet host with a free slot for a call of one
// organisation: among that organisation's own fleets and the platform's,
// never another organisation's. The token the caller then sends the fleet
// must be scoped to fleet_id (svcauth.FleetAudience).
func (s *Server) selectFleet(c *fiber.Ctx) error {
	orgID := c.Query("org_id")
	if orgID == "" {
		return badRequest("org_id: required (the organisation whose call it is)")
	}
	if !store.ValidID(orgID) {
		return badRequest("org_id: not an id")
	}
	f, cp, err := s.pickFleet(c.UserContext(), orgID)
	if err != nil {
		return err
	}
	return c.JSON(runtimeapi.FleetChoice{FleetID: f.ID, URL: f.URL, Free: cp.Free})
}

// pickFleet selects a fleet with a free slot for a call of orgID.
func (s *Server) pickFleet(ctx context.Context, orgID string) (store.Fleet, fleetpoll.Capacity, error) {
	fleets, err := s.store.EnabledFleets(ctx, orgID)
	if err != nil {
		return store.Fleet{}, fleetpoll.Capacity{}, err
	}
	fleets = append(fleets, s.poller.Platform()...)
	f, cp, ok, err := fleetpoll.Select(ctx, s.rdb, fleets, s.poller.TTL())
	if err != nil {
		return f, cp, redisErr("select fleet", err)
	}
	if !ok {
		return f, cp, httpErr(http.StatusServiceUnavailable, "no fleet has a free slot")
	}
	return f, cp, nil
}
