package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/voxplatform/vox/runtimeapi"
)

// CollDiallerLeader holds the one leader document of the Dialler.
const CollDiallerLeader = "dialler_leader"

// leaderID is the _id of the leader document: one Dialler per database.
const leaderID = "dialler"

// Contact statuses the Dialler sets. Pending and do_not_call are set by
// voxbridge too (see ops.go).
const (
	// ContactDialling: leased by the Dialler for one attempt.
	ContactDialling = "dialling"
	// ContactAnswered: a person answered and was handed to a worker (final).
	ContactAnswered = "answered"
	// ContactExhausted: every attempt allowed was made without a handed-over
	// answer (final).
	ContactExhausted = "exhausted"
)

// ContactFinal reports whether a contact status is final: the Dialler never
// dials such a contact again.
func ContactFinal(status string) bool {
	return status == ContactAnswered || status == ContactExhausted || status == ContactDoNotCall
}

// Attempt outcomes the Dialler keeps on a contact (last_outcome). On the
// call record the same facts are its status and end cause (runtimeapi).
const (
	OutcomeAnswered  = "answered"  // a person answered and a worker took the call
	OutcomeAbandoned = "abandoned" // a person answered and no worker was free: hung up
	OutcomeNoAnswer  = "no_answer"
	OutcomeBusy      = "busy"
	OutcomeFailed    = "failed"
)

// DialState is what the Dialler keeps on a contact between attempts. Every
// field is written only by conditional updates of this file.
type DialState struct {
	// LeaseUntil is when the lease of the attempt in progress expires.
	LeaseUntil *time.Time `bson:"lease_until,omitempty" json:"lease_until,omitempty"`
	// LeaseEpoch is the leader epoch of the last Dialler that wrote the
	// contact: a Dialler with an older epoch may no longer write it.
	LeaseEpoch int64 `bson:"lease_epoch,omitempty" json:"lease_epoch,omitempty"`
	// LeaseOwner names the Dialler process that holds or held the lease.
	LeaseOwner string `bson:"lease_owner,omitempty" json:"lease_owner,omitempty"`
	// NextAttemptAt is the earliest time of the next attempt.
	NextAttemptAt *time.Time `bson:"next_attempt_at,omitempty" json:"next_attempt_at,omitempty"`
	// LastAbandonAt is when a call to the contact was last abandoned.
	LastAbandonAt *time.Time `bson:"last_abandon_at,omitempty" json:"last_abandon_at,omitempty"`
	// LastOutcome and LastCallID describe the last attempt.
	LastOutcome string `bson:"last_outcome,omitempty" json:"last_outcome,omitempty"`
	LastCallID  string `bson:"last_call_id,omitempty" json:"last_call_id,omitempty"`
}

// Leader is the leader document: which Dialler process may dial, until
// when, and its fencing token.
type Leader struct {
	ID         string    `bson:"_id"`
	Owner      string    `bson:"owner"`
	Epoch      int64     `bson:"epoch"`
	LeaseUntil time.Time `bson:"lease_until"`
}

// ClaimLeader renews owner's leadership of epoch, or takes it over when
// the current leader's lease has expired (incrementing the epoch), or
// creates it. ok reports whether owner leads; the returned document is the
// current one either way.
func (s *Store) ClaimLeader(ctx context.Context, owner string, epoch int64, now time.Time, ttl time.Duration) (Leader, bool, error) {
	coll := s.C(CollDiallerLeader)
	until := now.Add(ttl).UTC().Truncate(time.Millisecond)
	after := options.FindOneAndUpdate().SetReturnDocument(options.After)
	var l Leader
	if epoch > 0 {
		err := coll.FindOneAndUpdate(ctx, bson.M{"_id": leaderID, "owner": owner, "epoch": epoch},
			bson.M{"$set": bson.M{"lease_until": until}}, after).Decode(&l)
		if err == nil {
			return l, true, nil
		}
		if !errors.Is(err, mongo.ErrNoDocuments) {
			return l, false, classify("renew dialler leadership", err)
		}
	}
	err := coll.FindOneAndUpdate(ctx, bson.M{"_id": leaderID, "lease_until": bson.M{"$lt": now.UTC()}},
		bson.M{"$set": bson.M{"owner": owner, "lease_until": until}, "$inc": bson.M{"epoch": int64(1)}}, after).Decode(&l)
	if err == nil {
		return l, true, nil
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return l, false, classify("take over dialler leadership", err)
	}
	l = Leader{ID: leaderID, Owner: owner, Epoch: 1, LeaseUntil: until}
	if _, err := coll.InsertOne(ctx, l); err == nil {
		return l, true, nil
	} else if err = classify("create dialler leader", err); !errors.Is(err, ErrConflict) {
		return Leader{}, false, err
	}
	cur, err := s.CurrentLeader(ctx)
	return cur, false, err
}

// CurrentLeader reads the leader document.
func (s *Store) CurrentLeader(ctx context.Context) (Leader, error) {
	return FindOne[Leader](ctx, s, CollDiallerLeader, bson.M{"_id": leaderID})
}

// ReleaseLeader ends owner's leadership of epoch at once, so that a standby
// takes over at its next tick instead of waiting for the lease to expire.
func (s *Store) ReleaseLeader(ctx context.Context, owner string, epoch int64) error {
	past := time.Now().Add(-time.Millisecond).UTC().Truncate(time.Millisecond)
	_, err := s.C(CollDiallerLeader).UpdateOne(ctx, bson.M{"_id": leaderID, "owner": owner, "epoch": epoch},
		bson.M{"$set": bson.M{"lease_until": past}})
	return classify("release dialler leadership", err)
}

// epochOK is the fencing condition of every lease write: the contact was
// last written by this epoch or an older one.
func epochOK(epoch int64) bson.M {
	return bson.M{"$or": bson.A{
		bson.M{"lease_epoch": bson.M{"$exists": false}},
		bson.M{"lease_epoch": bson.M{"$lte": epoch}},
	}}
}

// FenceContacts stamps epoch on every pending contact written by an older
// epoch, so that a deposed leader's lease writes on them are refused. A new
// leader runs it once when it takes over.
func (s *Store) FenceContacts(ctx context.Context, epoch int64) (int64, error) {
	res, err := s.C(CollContacts).UpdateMany(ctx, bson.M{"status": ContactPending, "$or": bson.A{
		bson.M{"lease_epoch": bson.M{"$exists": false}},
		bson.M{"lease_epoch": bson.M{"$lt": epoch}},
	}}, bson.M{"$set": bson.M{"lease_epoch": epoch}})
	if err != nil {
		return 0, classify("fence contacts", err)
	}
	return res.ModifiedCount, nil
}

// LeaseQuery selects the contact one attempt leases.
type LeaseQuery struct {
	CampaignID string
	Epoch      int64  // the leader's fencing token
	Owner      string // the leader's name
	Now        time.Time
	For        time.Duration // lease length: ring timeout plus attach, with margin
	// MaxAttempts is the campaign's limit; a contact with that many
	// attempts is not leased.
	MaxAttempts int
	// AbandonQuiet is how long after an abandoned call the contact is not
	// called again (72 h).
	AbandonQuiet time.Duration
	// Zones are the contact time zones inside the calling window now;
	// CampaignZoneOpen says whether contacts without a zone (the campaign's)
	// may be called.
	Zones            []string
	CampaignZoneOpen bool
}

// LeaseContact leases one eligible contact of a campaign for one attempt,
// in one findOneAndUpdate whose filter holds every condition (status,
// attempts, retry time, the quiet period after an abandon, calling window
// zones, fencing epoch), and increments its attempt counter. It returns
// ErrNotFound when no contact is eligible.
func (s *Store) LeaseContact(ctx context.Context, q LeaseQuery) (Contact, error) {
	var zones bson.A
	if len(q.Zones) > 0 {
		zones = append(zones, bson.M{"timezone": bson.M{"$in": q.Zones}})
	}
	if q.CampaignZoneOpen {
		zones = append(zones, bson.M{"timezone": bson.M{"$exists": false}}, bson.M{"timezone": ""})
	}
	if len(zones) == 0 || q.MaxAttempts <= 0 {
		return Contact{}, fmt.Errorf("lease contact: %w", ErrNotFound)
	}
	now := q.Now.UTC().Truncate(time.Millisecond)
	filter := bson.M{
		"campaign_id": q.CampaignID,
		"status":      ContactPending,
		"attempts":    bson.M{"$lt": q.MaxAttempts},
		"$and": bson.A{
			bson.M{"$or": bson.A{
				bson.M{"next_attempt_at": bson.M{"$exists": false}},
				bson.M{"next_attempt_at": bson.M{"$lte": now}},
			}},
			bson.M{"$or": bson.A{
				bson.M{"last_abandon_at": bson.M{"$exists": false}},
				bson.M{"last_abandon_at": bson.M{"$lte": now.Add(-q.AbandonQuiet)}},
			}},
			epochOK(q.Epoch),
			bson.M{"$or": zones},
		},
	}
	update := bson.M{
		"$set": bson.M{"status": ContactDialling, "lease_until": now.Add(q.For), "lease_epoch": q.Epoch,
			"lease_owner": q.Owner, "updated_at": now},
		"$inc": bson.M{"attempts": 1},
	}
	var c Contact
	err := s.C(CollContacts).FindOneAndUpdate(ctx, filter, update, options.FindOneAndUpdate().
		SetSort(bson.D{{Key: "_id", Value: 1}}).SetReturnDocument(options.After)).Decode(&c)
	return c, classify("lease contact of campaign "+q.CampaignID, err)
}

// LeaseEnd is how an attempt's lease ends.
type LeaseEnd struct {
	ContactID string
	Attempt   int   // the attempt counter the lease was taken with
	Epoch     int64 // the writer's fencing token
	// Status is the contact's new status: pending (to retry), answered,
	// exhausted or do_not_call.
	Status        string
	NextAttemptAt *time.Time
	LastAbandonAt *time.Time
	Outcome       string
	CallID        string
	// UndoAttempt gives the attempt back (no call was placed): the attempt
	// counter is decremented.
	UndoAttempt bool
}

// EndLease ends the lease of one attempt. The write is refused
// (ErrConflict) unless the contact is still leased for that attempt by
// this epoch or an older one: a lease recovered by a newer leader is no
// longer this writer's.
func (s *Store) EndLease(ctx context.Context, e LeaseEnd) error {
	filter := bson.M{"_id": e.ContactID, "status": ContactDialling, "attempts": e.Attempt,
		"$and": bson.A{epochOK(e.Epoch)}}
	return s.endLease(ctx, filter, e)
}

// RecoverLease ends an expired lease found by ExpiredLeases, on behalf of
// the leader of epoch e.Epoch, provided it is still the same expired lease.
func (s *Store) RecoverLease(ctx context.Context, e LeaseEnd, now time.Time) error {
	filter := bson.M{"_id": e.ContactID, "status": ContactDialling, "attempts": e.Attempt,
		"lease_until": bson.M{"$lt": now.UTC()}, "$and": bson.A{epochOK(e.Epoch)}}
	return s.endLease(ctx, filter, e)
}

func (s *Store) endLease(ctx context.Context, filter bson.M, e LeaseEnd) error {
	set := bson.M{"status": e.Status, "lease_epoch": e.Epoch,
		"updated_at": time.Now().UTC().Truncate(time.Millisecond)}
	if e.NextAttemptAt != nil {
		set["next_attempt_at"] = e.NextAttemptAt.UTC()
	}
	if e.LastAbandonAt != nil {
		set["last_abandon_at"] = e.LastAbandonAt.UTC()
	}
	if e.Outcome != "" {
		set["last_outcome"] = e.Outcome
	}
	if e.CallID != "" {
		set["last_call_id"] = e.CallID
	}
	update := bson.M{"$set": set, "$unset": bson.M{"lease_until": ""}}
	if e.UndoAttempt {
		update["$inc"] = bson.M{"attempts": -1}
	}
	res, err := s.C(CollContacts).UpdateOne(ctx, filter, update)
	if err != nil {
		return classify("end lease of contact "+e.ContactID, err)
	}
	if res.MatchedCount == 0 {
		return classify(fmt.Sprintf("end lease of contact %s attempt %d (epoch %d)", e.ContactID, e.Attempt, e.Epoch), ErrConflict)
	}
	return nil
}

// ExtendLease moves the lease of a live attempt forward, taking it over for
// epoch.
func (s *Store) ExtendLease(ctx context.Context, contactID string, attempt int, epoch int64, until time.Time) error {
	res, err := s.C(CollContacts).UpdateOne(ctx,
		bson.M{"_id": contactID, "status": ContactDialling, "attempts": attempt, "$and": bson.A{epochOK(epoch)}},
		bson.M{"$set": bson.M{"lease_until": until.UTC().Truncate(time.Millisecond), "lease_epoch": epoch}})
	if err != nil {
		return classify("extend lease of contact "+contactID, err)
	}
	if res.MatchedCount == 0 {
		return classify("extend lease of contact "+contactID, ErrConflict)
	}
	return nil
}

// ExpiredLeases lists up to limit contacts whose lease expired before now.
func (s *Store) ExpiredLeases(ctx context.Context, now time.Time, limit int) ([]Contact, error) {
	cur, err := s.C(CollContacts).Find(ctx, bson.M{"status": ContactDialling, "lease_until": bson.M{"$lt": now.UTC()}},
		options.Find().SetSort(bson.D{{Key: "lease_until", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, classify("list expired leases", err)
	}
	var out []Contact
	if err := cur.All(ctx, &out); err != nil {
		return nil, classify("list expired leases", err)
	}
	return out, nil
}

// RunningCampaigns lists every running campaign of every organisation.
func (s *Store) RunningCampaigns(ctx context.Context) ([]Campaign, error) {
	cur, err := s.C(CollCampaigns).Find(ctx, bson.M{"status": CampaignRunning},
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, classify("list running campaigns", err)
	}
	var out []Campaign
	if err := cur.All(ctx, &out); err != nil {
		return nil, classify("list running campaigns", err)
	}
	return out, nil
}

// LastAbandonOfNumber returns when a call to phone was last abandoned in
// any campaign of orgID, from any contact but except, if that was after
// since; nil when it was not. The quiet period after an abandon is the
// number's, not only the contact's: the same person may be a contact of
// several campaigns.
func (s *Store) LastAbandonOfNumber(ctx context.Context, orgID, phone, except string, since time.Time) (*time.Time, error) {
	var c Contact
	err := s.C(CollContacts).FindOne(ctx, bson.M{"org_id": orgID, "phone": phone, "_id": bson.M{"$ne": except},
		"last_abandon_at": bson.M{"$gt": since.UTC()}},
		options.FindOne().SetSort(bson.D{{Key: "last_abandon_at", Value: -1}}).
			SetProjection(bson.M{"last_abandon_at": 1})).Decode(&c)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, classify("last abandon of a number", err)
	}
	return c.LastAbandonAt, nil
}

// NumberInCall reports whether phone has a call in flight in orgID, other
// than contact except's: another contact of the organisation with that
// number leased for an attempt (dialling; possibly by an earlier leader), or
// an outbound call to it answered after answeredSince and still in
// progress. It returns what holds the number ("" when nothing does). One
// person may be a contact of several campaigns: one call at a time.
func (s *Store) NumberInCall(ctx context.Context, orgID, phone, except string, answeredSince time.Time) (string, error) {
	var c Contact
	err := s.C(CollContacts).FindOne(ctx, bson.M{"org_id": orgID, "phone": phone, "_id": bson.M{"$ne": except},
		"status": ContactDialling}, options.FindOne().SetProjection(bson.M{"_id": 1})).Decode(&c)
	if err == nil {
		return "contact " + c.ID + " being dialled", nil
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return "", classify("contacts of a number being dialled", err)
	}
	var call struct {
		ID string `bson:"_id"`
	}
	err = s.C(CollCalls).FindOne(ctx, bson.M{"org_id": orgID, "status": runtimeapi.CallInProgress, "to": phone,
		"answered_at": bson.M{"$gt": answeredSince.UTC()}}, options.FindOne().SetProjection(bson.M{"_id": 1})).Decode(&call)
	if err == nil {
		return "call " + call.ID + " in progress", nil
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return "", classify("calls of a number in progress", err)
	}
	return "", nil
}

// PendingZones lists the distinct contact time zones among the pending
// contacts of a campaign ("" for contacts without one).
func (s *Store) PendingZones(ctx context.Context, campaignID string) ([]string, error) {
	vals, err := s.C(CollContacts).Distinct(ctx, "timezone", bson.M{"campaign_id": campaignID, "status": ContactPending})
	if err != nil {
		return nil, classify("list contact time zones", err)
	}
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if z, ok := v.(string); ok {
			out = append(out, z)
		}
	}
	return out, nil
}

// CampaignOpenContacts counts the contacts of a campaign that are not in a
// final status (pending or dialling).
func (s *Store) CampaignOpenContacts(ctx context.Context, campaignID string) (int64, error) {
	return Count(ctx, s, CollContacts, bson.M{"campaign_id": campaignID,
		"status": bson.M{"$in": bson.A{ContactPending, ContactDialling}}})
}

// AbandonTally counts the calls of a campaign a person answered since
// since (answered_at is set on both the calls handed to a worker and the
// abandoned ones), and those abandoned (end cause abandoned).
func (s *Store) AbandonTally(ctx context.Context, campaignID string, since time.Time) (humans, abandons int64, err error) {
	f := bson.M{"campaign_id": campaignID, "answered_at": bson.M{"$gte": since.UTC()}}
	if humans, err = Count(ctx, s, CollCalls, f); err != nil {
		return 0, 0, err
	}
	f["end_cause"] = runtimeapi.EndAbandoned
	abandons, err = Count(ctx, s, CollCalls, f)
	return humans, abandons, err
}

// DiallerIndexes are the indexes, created by voxbridge (EnsureIndexes),
// that the Dialler's queries need; it waits for them at start.
var DiallerIndexes = map[string][]string{
	CollContacts: {"campaign_id_1_status_1__id_1", "status_1_lease_until_1"},
	CollCalls:    {"campaign_id_1_answered_at_1"},
}

// MissingIndexes lists the indexes of DiallerIndexes that do not exist yet,
// as "collection.index".
func (s *Store) MissingIndexes(ctx context.Context) ([]string, error) {
	var missing []string
	for coll, names := range DiallerIndexes {
		cur, err := s.C(coll).Indexes().List(ctx)
		if err != nil {
			return nil, classify("list indexes of "+coll, err)
		}
		var have []struct {
			Name string `bson:"name"`
		}
		if err := cur.All(ctx, &have); err != nil {
			return nil, classify("list indexes of "+coll, err)
		}
		exists := map[string]bool{}
		for _, h := range have {
			exists[h.Name] = true
		}
		for _, n := range names {
			if !exists[n] {
				missing = append(missing, coll+"."+n)
			}
		}
	}
	return missing, nil
}
