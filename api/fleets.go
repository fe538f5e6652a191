package api

import (
	"errors"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/voxplatform/vox/api/auth"
	"github.com/voxplatform/vox/api/config"
	"github.com/voxplatform/vox/api/fleetpoll"
	"github.com/voxplatform/vox/store"
)

// platformFleets turns FLEET_PLATFORM into fleets of no organisation (see
// fleetpoll.IsPlatform).
func platformFleets(pf []config.PlatformFleet) []store.Fleet {
	out := make([]store.Fleet, len(pf))
	for i, f := range pf {
		out[i] = store.Fleet{Meta: store.Meta{ID: f.ID}, Name: f.ID, URL: f.URL, Enabled: true}
	}
	return out
}

// checkFleetURL refuses an organisation's fleet URL whose host is a literal
// address the policy refuses (loopback, private, link-local, metadata…).
// Names are checked again on every connect, after DNS.
func (s *Server) checkFleetURL(u string) error {
	p := fleetpoll.AddressPolicy{Allowed: s.cfg.Fleets.AllowedNets}
	if err := p.CheckURL(u); errors.Is(err, fleetpoll.ErrAddressRefused) {
		return badRequest("url: address not allowed for a fleet (loopback, private, link-local and metadata addresses are refused)")
	}
	return nil
}

// beforeFleetCreate enforces FLEET_MAX_PER_ORG.
func (s *Server) beforeFleetCreate(c *fiber.Ctx, p *auth.Principal) error {
	n, err := store.Count(c.UserContext(), s.store, store.CollFleets, bson.M{"org_id": p.OrgID})
	if err != nil {
		return err
	}
	if n >= int64(s.cfg.Fleets.MaxPerOrg) {
		return badRequest("fleets: an organisation may register at most %d", s.cfg.Fleets.MaxPerOrg)
	}
	return nil
}
