package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/voxplatform/vox/api/fleetpoll"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/store"
)

// fleetCapacity sums the last polled capacity of the fleet hosts a call of
// one organisation may use: its own and the platform's, never another
// organisation's. The Dialler paces with it.
func (s *Server) fleetCapacity(c *fiber.Ctx) error {
	orgID := c.Query("org_id")
	if orgID == "" {
		return badRequest("org_id: required (the organisation whose calls are paced)")
	}
	if !store.ValidID(orgID) {
		return badRequest("org_id: not an id")
	}
	ctx := c.UserContext()
	fleets, err := s.store.EnabledFleets(ctx, orgID)
	if err != nil {
		return err
	}
	fleets = append(fleets, s.poller.Platform()...)
	ids := make([]string, len(fleets))
	for i, f := range fleets {
		ids[i] = f.ID
	}
	caps, err := fleetpoll.Read(ctx, s.rdb, ids)
	if err != nil {
		return redisErr("read fleet capacity", err)
	}
	out := runtimeapi.FleetCapacity{Fleets: len(fleets)}
	for _, f := range fleets {
		cp, ok := caps[f.ID]
		if !ok || !cp.Healthy || cp.URL != f.URL {
			continue
		}
		out.Healthy++
		if out.CheckedAt.IsZero() || cp.CheckedAt.Before(out.CheckedAt) {
			out.CheckedAt = cp.CheckedAt
		}
		out.Free += cp.Free
		out.Busy += cp.Busy
	}
	return c.JSON(out)
}
