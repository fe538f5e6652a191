package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
)

// CollNumberClaims holds one document per verified number, keyed by the
// number: the unique _id is what makes a number verified for at most one
// organisation.
const CollNumberClaims = "number_claims"

// Verification states of a phone number.
const (
	// NumberPending: registered by an organisation, not verified; it takes
	// no inbound call.
	NumberPending = "pending"
	// NumberVerified: the platform verified that the number belongs to the
	// organisation; it takes the number's inbound calls.
	NumberVerified = "verified"
)

// How a number was verified.
const (
	// VerifiedByTrunk: the platform confirmed that the SIP trunk the number
	// names carries it.
	VerifiedByTrunk = "trunk"
	// VerifiedByOperator: a platform operator claimed it for the
	// organisation.
	VerifiedByOperator = "operator"
)

// NumberVerification is a number's verification state. Organisations
// cannot set it: it changes through ClaimNumber, and back to NumberPending
// when the organisation changes the number or its trunk.
type NumberVerification struct {
	Status      string     `bson:"status" json:"status"`                                 // NumberPending or NumberVerified
	VerifiedVia string     `bson:"verified_via,omitempty" json:"verified_via,omitempty"` // VerifiedByTrunk or VerifiedByOperator
	VerifiedAt  *time.Time `bson:"verified_at,omitempty" json:"verified_at,omitempty"`
}

// Verified reports whether the number takes inbound calls.
func (v NumberVerification) Verified() bool { return v.Status == NumberVerified }

// Errors of ClaimNumber.
var (
	// ErrTrunkMismatch: the number names another trunk than the one said to
	// carry it.
	ErrTrunkMismatch = errors.New("the number names another trunk")
	// ErrClaimed: the number is verified for another organisation.
	ErrClaimed = errors.New("the number is verified for another organisation")
)

// numberClaim is a document of CollNumberClaims.
type numberClaim struct {
	E164      string    `bson:"_id"`
	OrgID     string    `bson:"org_id"`
	NumberID  string    `bson:"number_id"`
	CreatedAt time.Time `bson:"created_at"`
}

// ClaimNumber verifies orgID's registration of e164. With trunkID set, the
// registration must name that trunk (VerifiedByTrunk); without, it is an
// operator's claim (VerifiedByOperator). It is idempotent; ErrClaimed when
// another registration of the number is verified, ErrNotFound when orgID
// has not registered it.
func (s *Store) ClaimNumber(ctx context.Context, orgID, e164, trunkID string) (PhoneNumber, error) {
	n, err := FindOne[PhoneNumber](ctx, s, CollPhoneNumbers, bson.M{"org_id": orgID, "e164": e164})
	if err != nil {
		return n, err
	}
	via := VerifiedByOperator
	if trunkID != "" {
		if n.TrunkID != trunkID {
			return n, fmt.Errorf("claim %s: %w (%q)", e164, ErrTrunkMismatch, n.TrunkID)
		}
		via = VerifiedByTrunk
	}
	claim := numberClaim{E164: e164, OrgID: orgID, NumberID: n.ID, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	if err := s.insertClaim(ctx, claim); err != nil {
		return n, err
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	res, err := s.C(CollPhoneNumbers).UpdateOne(ctx, bson.M{"_id": n.ID, "org_id": orgID, "e164": e164},
		// updated_at moves too, so that an edit based on the pending version
		// fails (optimistic concurrency) instead of undoing the verification.
		bson.M{"$set": bson.M{"status": NumberVerified, "verified_via": via, "verified_at": now, "updated_at": now}})
	if err != nil {
		return n, classify("verify number "+e164, err)
	}
	if res.MatchedCount == 0 { // changed or deleted meanwhile
		_ = s.ReleaseNumber(ctx, n.ID, e164)
		return n, classify("verify number "+e164, ErrConflict)
	}
	n.Status, n.VerifiedVia, n.VerifiedAt, n.UpdatedAt = NumberVerified, via, &now, now
	return n, nil
}

// insertClaim stores claim, or finds it already there: the same number's
// claim is fine (a repeated verification), a stale one (its number no longer
// verified with that value) is replaced, another live one is ErrClaimed.
func (s *Store) insertClaim(ctx context.Context, claim numberClaim) error {
	for range 2 {
		_, err := s.C(CollNumberClaims).InsertOne(ctx, claim)
		if err == nil {
			return nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return classify("claim number "+claim.E164, err)
		}
		var have numberClaim
		if err := s.C(CollNumberClaims).FindOne(ctx, bson.M{"_id": claim.E164}).Decode(&have); err != nil {
			return classify("read claim of "+claim.E164, err)
		}
		if have.NumberID == claim.NumberID {
			return nil
		}
		live, err := Count(ctx, s, CollPhoneNumbers, bson.M{"_id": have.NumberID, "e164": claim.E164, "status": NumberVerified})
		if err != nil {
			return err
		}
		if live > 0 {
			return fmt.Errorf("claim %s: %w", claim.E164, ErrClaimed)
		}
		if _, err := s.C(CollNumberClaims).DeleteOne(ctx, bson.M{"_id": claim.E164, "number_id": have.NumberID}); err != nil {
			return classify("drop stale claim of "+claim.E164, err)
		}
	}
	return fmt.Errorf("claim %s: %w", claim.E164, ErrConflict)
}

// ReleaseNumber drops numberID's claim on e164, if it holds it: the number
// takes no inbound call until it is verified again.
func (s *Store) ReleaseNumber(ctx context.Context, numberID, e164 string) error {
	_, err := s.C(CollNumberClaims).DeleteOne(ctx, bson.M{"_id": e164, "number_id": numberID})
	return classify("release number "+e164, err)
}

// VerifiedNumber returns the verified registration of e164: the only one
// that takes its inbound calls. ErrNotFound when none is verified.
func (s *Store) VerifiedNumber(ctx context.Context, e164 string) (PhoneNumber, error) {
	var c numberClaim
	if err := s.C(CollNumberClaims).FindOne(ctx, bson.M{"_id": e164}).Decode(&c); err != nil {
		return PhoneNumber{}, classify("find claim of "+e164, err)
	}
	return FindOne[PhoneNumber](ctx, s, CollPhoneNumbers,
		bson.M{"_id": c.NumberID, "org_id": c.OrgID, "e164": e164, "status": NumberVerified})
}
