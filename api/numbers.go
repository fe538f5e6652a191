package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/voxplatform/vox/phone"
	"github.com/voxplatform/vox/store"
)

// unverifyOnChange puts a number back to pending when its organisation
// changed the number or its trunk (what was verified no longer holds). It
// runs after the input is applied.
func unverifyOnChange(n *store.PhoneNumber, oldE164, oldTrunk string) {
	if n.E164 != oldE164 || n.TrunkID != oldTrunk {
		n.NumberVerification = store.NumberVerification{Status: store.NumberPending}
	}
}

// releaseNumber drops the claim of a verified number that was deleted or
// went back to pending, so that it takes no more inbound calls.
func (s *Server) releaseNumber(ctx context.Context, old, cur *store.PhoneNumber) {
	if old == nil || !old.Verified() || (cur != nil && cur.Verified()) {
		return
	}
	if err := s.store.ReleaseNumber(ctx, old.ID, old.E164); err != nil {
		// The claim stays, but routes no call: VerifiedNumber also requires
		// the registration itself to be verified.
		s.logger.Warn("release number claim", "number_id", old.ID, "err", err)
	}
}

// verifyNumberInput is the body of POST /runtime/phone-numbers/verify.
type verifyNumberInput struct {
	OrgID   string `json:"org_id"`             // the organisation the number is verified for
	E164    string `json:"e164"`               // the number, as the organisation registered it
	TrunkID string `json:"trunk_id,omitempty"` // the SIP trunk that carries it; empty: an operator's claim
}

// verifyNumber is how the platform verifies a number for an organisation:
// the service that holds the SIP trunks confirms the trunk the number names
// carries it, or a platform operator claims it (no trunk_id). Only then does
// the number take inbound calls.
func (s *Server) verifyNumber(c *fiber.Ctx) error {
	var in verifyNumberInput
	if err := s.decode(c, &in); err != nil {
		return err
	}
	if !store.ValidID(in.OrgID) {
		return badRequest("org_id: not an id")
	}
	e, err := phone.Normalize(in.E164, "")
	if err != nil {
		return badRequest("e164: %v", err)
	}
	ctx := c.UserContext()
	n, err := s.store.ClaimNumber(ctx, in.OrgID, e, in.TrunkID)
	switch {
	case errors.Is(err, store.ErrTrunkMismatch):
		return badRequest("trunk_id: the number names another trunk")
	case errors.Is(err, store.ErrClaimed):
		return httpErr(http.StatusConflict, "the number is verified for another organisation")
	case err != nil:
		return err
	}
	s.logger.Info("number verified", "org_id", n.OrgID, "number_id", n.ID, "e164", n.E164, "via", n.VerifiedVia)
	s.invalidateNumbers(ctx, n.E164)
	return c.JSON(n)
}
