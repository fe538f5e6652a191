package api

import (
	"context"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/voxplatform/vox/api/auth"
	"github.com/voxplatform/vox/api/fleetpoll"
	"github.com/voxplatform/vox/phone"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/store"
)

type agentInput struct {
	Name           *string             `json:"name"`
	Language       *string             `json:"language"`
	Voice          *string             `json:"voice"`
	Greeting       *string             `json:"greeting"`
	Prompt         *string             `json:"prompt"`
	Script         *[]store.ScriptStep `json:"script"`
	Recording      *bool               `json:"recording"`
	MaxCallSeconds *int                `json:"max_call_seconds"`
	// Providers replaces the agent's provider choice as a whole.
	Providers *runtimeapi.AgentProviders `json:"providers"`
}

type phoneNumberInput struct {
	E164           *string `json:"e164"`
	TrunkID        *string `json:"trunk_id"`
	InboundAgentID *string `json:"inbound_agent_id"`
}

type campaignInput struct {
	Name              *string       `json:"name"`
	AgentID           *string       `json:"agent_id"`
	TrunkID           *string       `json:"trunk_id"`
	CallerID          *string       `json:"caller_id"`
	Window            *store.Window `json:"window"`
	MaxAttempts       *int          `json:"max_attempts"`
	RetryDelaySeconds *int          `json:"retry_delay_seconds"`
	Priority          *int          `json:"priority"`
}

type fleetInput struct {
	Name    *string `json:"name"`
	URL     *string `json:"url"`
	Enabled *bool   `json:"enabled"`
}

type dncInput struct {
	Phone  *string `json:"phone"`
	Reason *string `json:"reason"`
}

// fleetView is a fleet with its last polled capacity.
type fleetView struct {
	store.Fleet
	Capacity *fleetpoll.Capacity `json:"capacity"`
}

func (s *Server) resourceRoutes() {
	registerCRUD(s, crud[store.Agent, *store.Agent, agentInput]{
		path: "/agents", coll: store.CollAgents, tag: "agents",
		readRole: store.RoleViewer, writeRole: store.RoleAdmin,
		filters: []filter{textFilter("name", "name"), textFilter("language", "language"), boolFilter("recording", "recording")},
		defaults: func(a *store.Agent) {
			a.Language, a.MaxCallSeconds, a.Script = "en-US", 1800, []store.ScriptStep{}
		},
		apply: func(_ *fiber.Ctx, _ *auth.Principal, in *agentInput, a *store.Agent) error {
			set(&a.Name, in.Name)
			set(&a.Language, in.Language)
			set(&a.Voice, in.Voice)
			set(&a.Greeting, in.Greeting)
			set(&a.Prompt, in.Prompt)
			set(&a.Script, in.Script)
			set(&a.Recording, in.Recording)
			set(&a.MaxCallSeconds, in.MaxCallSeconds)
			set(&a.Providers, in.Providers)
			if a.Script == nil {
				a.Script = []store.ScriptStep{}
			}
			return nil
		},
		changed: func(ctx context.Context, old, cur *store.Agent) {
			a := cur
			if a == nil {
				a = old
			}
			s.invalidateAgent(ctx, a.ID)
		},
	})

	registerCRUD(s, crud[store.PhoneNumber, *store.PhoneNumber, phoneNumberInput]{
		path: "/phone-numbers", coll: store.CollPhoneNumbers, tag: "phone-numbers",
		readRole: store.RoleViewer, writeRole: store.RoleAdmin,
		filters: []filter{idFilter("inbound_agent_id", "inbound_agent_id"), {Param: "e164", Field: "e164",
			Check: func(_ *fiber.Ctx, v string) (any, error) { return normalizeQueryPhone("e164", v) }}},
		defaults: func(n *store.PhoneNumber) { n.Status = store.NumberPending },
		apply: func(c *fiber.Ctx, p *auth.Principal, in *phoneNumberInput, n *store.PhoneNumber) error {
			defer unverifyOnChange(n, n.E164, n.TrunkID)
			if in.E164 != nil {
				e, err := phone.Normalize(*in.E164, "")
				if err != nil {
					return badRequest("e164: %v", err)
				}
				n.E164 = e
			}
			set(&n.TrunkID, in.TrunkID)
			set(&n.InboundAgentID, in.InboundAgentID)
			return s.sameOrg(c.UserContext(), store.CollAgents, p.OrgID, n.InboundAgentID, "inbound_agent_id")
		},
		changed: func(ctx context.Context, old, cur *store.PhoneNumber) {
			s.releaseNumber(ctx, old, cur)
			var nums []string
			for _, n := range []*store.PhoneNumber{old, cur} {
				if n != nil {
					nums = append(nums, n.E164)
				}
			}
			s.invalidateNumbers(ctx, nums...)
		},
	})

	registerCRUD(s, crud[store.Campaign, *store.Campaign, campaignInput]{
		path: "/campaigns", coll: store.CollCampaigns, tag: "campaigns",
		readRole: store.RoleViewer, writeRole: store.RoleOperator,
		filters: []filter{
			oneOfFilter("status", "status", store.CampaignDraft, store.CampaignRunning, store.CampaignPaused, store.CampaignCompleted),
			idFilter("agent_id", "agent_id"),
		},
		defaults: func(c *store.Campaign) {
			c.Status, c.MaxAttempts, c.RetryDelaySeconds, c.Priority = store.CampaignDraft, 3, 3600, 50
			c.Window = store.Window{Start: "09:00", End: "18:00", Timezone: "UTC", Days: []int{1, 2, 3, 4, 5}}
		},
		apply: func(c *fiber.Ctx, p *auth.Principal, in *campaignInput, cp *store.Campaign) error {
			set(&cp.Name, in.Name)
			set(&cp.AgentID, in.AgentID)
			set(&cp.TrunkID, in.TrunkID)
			if in.CallerID != nil && *in.CallerID != "" {
				e, err := phone.Normalize(*in.CallerID, "")
				if err != nil {
					return badRequest("caller_id: %v", err)
				}
				cp.CallerID = e
			} else {
				set(&cp.CallerID, in.CallerID)
			}
			set(&cp.Window, in.Window)
			set(&cp.MaxAttempts, in.MaxAttempts)
			set(&cp.RetryDelaySeconds, in.RetryDelaySeconds)
			set(&cp.Priority, in.Priority)
			if cp.AgentID == "" {
				return badRequest("agent_id: required")
			}
			return s.sameOrg(c.UserContext(), store.CollAgents, p.OrgID, cp.AgentID, "agent_id")
		},
	})
	s.campaignActions()

	registerCRUD(s, crud[store.Fleet, *store.Fleet, fleetInput]{
		path: "/fleets", coll: store.CollFleets, tag: "fleets",
		readRole: store.RoleViewer, writeRole: store.RoleAdmin,
		filters:  []filter{boolFilter("enabled", "enabled")},
		defaults: func(f *store.Fleet) { f.Enabled = true },
		apply: func(_ *fiber.Ctx, _ *auth.Principal, in *fleetInput, f *store.Fleet) error {
			set(&f.Name, in.Name)
			set(&f.URL, in.URL)
			set(&f.Enabled, in.Enabled)
			return s.checkFleetURL(f.URL)
		},
		beforeCreate: s.beforeFleetCreate,
		present:      s.presentFleets,
		view:         fleetView{}, viewPage: store.Page[fleetView]{},
	})

	registerCRUD(s, crud[store.DNCEntry, *store.DNCEntry, dncInput]{
		path: "/do-not-call", coll: store.CollDNC, tag: "do-not-call",
		readRole: store.RoleViewer, writeRole: store.RoleOperator, noUpdate: true,
		filters: []filter{{Param: "phone", Field: "phone",
			Check: func(_ *fiber.Ctx, v string) (any, error) { return normalizeQueryPhone("phone", v) }}},
		apply: func(_ *fiber.Ctx, _ *auth.Principal, in *dncInput, d *store.DNCEntry) error {
			if in.Phone == nil {
				return badRequest("phone: required")
			}
			e, err := phone.Normalize(*in.Phone, "")
			if err != nil {
				return badRequest("phone: %v", err)
			}
			d.Phone = e
			set(&d.Reason, in.Reason)
			return nil
		},
		changed: func(ctx context.Context, old, cur *store.DNCEntry) {
			if cur == nil {
				return
			}
			// Contacts uploaded before the number was listed are not called.
			n, err := s.store.MarkDoNotCall(ctx, cur.OrgID, cur.Phone)
			if err != nil {
				s.logger.Error("mark contacts do-not-call", "org_id", cur.OrgID, "err", err)
				return
			}
			if n > 0 {
				s.logger.Info("contacts marked do-not-call", "org_id", cur.OrgID, "contacts", n)
			}
		},
	})
}

// normalizeQueryPhone reads a phone number filter.
func normalizeQueryPhone(param, v string) (any, error) {
	e, err := phone.Normalize(v, "")
	if err != nil {
		return nil, badRequest("%s: %v", param, err)
	}
	return e, nil
}

// presentFleets adds the last polled capacity to each fleet.
func (s *Server) presentFleets(ctx context.Context, fleets []store.Fleet) ([]any, error) {
	ids := make([]string, len(fleets))
	for i, f := range fleets {
		ids[i] = f.ID
	}
	caps, err := fleetpoll.Read(ctx, s.rdb, ids)
	if err != nil {
		return nil, redisErr("read fleet capacity", err)
	}
	out := make([]any, len(fleets))
	for i, f := range fleets {
		v := fleetView{Fleet: f}
		if c, ok := caps[f.ID]; ok && c.URL == f.URL {
			v.Capacity = &c
		}
		out[i] = v
	}
	return out, nil
}

// campaignActions registers start and pause.
func (s *Server) campaignActions() {
	action := func(name, to string, from ...string) {
		s.add(routeInfo{Method: http.MethodPost, Path: "/api/v1/campaigns/:id/" + name,
			Summary: name + " a campaign", Tag: "campaigns", Access: accessUser, Role: store.RoleOperator,
			Out: store.Campaign{}},
			func(c *fiber.Ctx) error {
				id, err := pathID(c, "id")
				if err != nil {
					return err
				}
				p := principal(c)
				cp, err := s.store.SetCampaignStatus(c.UserContext(), p.OrgID, id, to, from...)
				if err != nil {
					return err
				}
				s.publish(c.UserContext(), p.OrgID, "campaign", cp)
				return c.JSON(cp)
			})
	}
	action("start", store.CampaignRunning, store.CampaignDraft, store.CampaignPaused)
	action("pause", store.CampaignPaused, store.CampaignRunning)
}
