package store

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/voxplatform/vox/importer"
)

// Bootstrap creates the organisation name and its owner unless they exist.
// It reports whether anything was created. An owner e-mail that belongs to
// another organisation is ErrConflict: bootstrap is the operator's command,
// and one owner account per e-mail keeps its login unambiguous.
func (s *Store) Bootstrap(ctx context.Context, name string, owner User) (created bool, err error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	org, err := FindOne[Org](ctx, s, CollOrgs, bson.M{"name": name})
	if errors.Is(err, ErrNotFound) {
		org = Org{ID: NewID(), Name: name, CreatedAt: now}
		if err = Insert(ctx, s, CollOrgs, org); err == nil {
			created = true
		} else if errors.Is(err, ErrConflict) { // created concurrently
			org, err = FindOne[Org](ctx, s, CollOrgs, bson.M{"name": name})
		}
	}
	if err != nil {
		return false, err
	}
	u, err := FindOne[User](ctx, s, CollUsers, bson.M{"email": owner.Email})
	switch {
	case err == nil && u.OrgID != org.ID:
		return created, classify("bootstrap owner "+owner.Email, ErrConflict)
	case err == nil:
		return created, nil
	case !errors.Is(err, ErrNotFound):
		return created, err
	}
	owner.Meta = Meta{ID: NewID(), OrgID: org.ID, CreatedAt: now, UpdatedAt: now}
	owner.Role = RoleOwner
	if err := Insert(ctx, s, CollUsers, owner); err != nil {
		return created, err
	}
	return true, nil
}

// SetCampaignStatus moves campaign id of orgID to status, provided its
// current status is one of from, in one conditional update. It returns the
// updated campaign, ErrNotFound, or ErrConflict when the current status
// does not allow the move.
func (s *Store) SetCampaignStatus(ctx context.Context, orgID, id, status string, from ...string) (Campaign, error) {
	var c Campaign
	err := s.C(CollCampaigns).FindOneAndUpdate(ctx,
		bson.M{"_id": id, "org_id": orgID, "status": bson.M{"$in": from}},
		bson.M{"$set": bson.M{"status": status, "updated_at": time.Now().UTC().Truncate(time.Millisecond)}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&c)
	if errors.Is(err, mongo.ErrNoDocuments) {
		if _, gerr := Get[Campaign](ctx, s, CollCampaigns, orgID, id); gerr != nil {
			return c, gerr
		}
		return c, classify("set campaign status", ErrConflict)
	}
	return c, classify("set campaign status", err)
}

// DNCSet returns which of phones are on orgID's do-not-call list.
func (s *Store) DNCSet(ctx context.Context, orgID string, phones []string) (map[string]bool, error) {
	out := map[string]bool{}
	for start := 0; start < len(phones); start += 1000 {
		end := min(start+1000, len(phones))
		cur, err := s.C(CollDNC).Find(ctx, bson.M{"org_id": orgID, "phone": bson.M{"$in": phones[start:end]}},
			options.Find().SetProjection(bson.M{"phone": 1}))
		if err != nil {
			return nil, classify("read do-not-call list", err)
		}
		var rows []struct {
			Phone string `bson:"phone"`
		}
		if err := cur.All(ctx, &rows); err != nil {
			return nil, classify("read do-not-call list", err)
		}
		for _, r := range rows {
			out[r.Phone] = true
		}
	}
	return out, nil
}

// InsertContacts stores rows as pending contacts of a campaign. A number
// already in the campaign is counted as a duplicate, not an error.
func (s *Store) InsertContacts(ctx context.Context, orgID, campaignID string, rows []importer.Row) (inserted, duplicates int, err error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	for start := 0; start < len(rows); start += 500 {
		end := min(start+500, len(rows))
		docs := make([]any, 0, end-start)
		for _, r := range rows[start:end] {
			docs = append(docs, Contact{Meta: Meta{ID: NewID(), OrgID: orgID, CreatedAt: now, UpdatedAt: now},
				CampaignID: campaignID, Phone: r.Phone, Name: r.Name, Metadata: r.Metadata, Status: ContactPending})
		}
		res, ierr := s.C(CollContacts).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
		if res != nil {
			inserted += len(res.InsertedIDs)
		}
		if ierr == nil {
			continue
		}
		var bwe mongo.BulkWriteException
		if !errors.As(ierr, &bwe) || bwe.WriteConcernError != nil {
			return inserted, duplicates, classify("insert contacts", ierr)
		}
		for _, we := range bwe.WriteErrors {
			if we.Code != 11000 {
				return inserted, duplicates, classify("insert contacts", ierr)
			}
			duplicates++
		}
		if res == nil {
			inserted += len(docs) - len(bwe.WriteErrors)
		}
	}
	return inserted, duplicates, nil
}

// EnabledFleets lists every enabled fleet of every organisation (orgID "")
// or of one organisation.
func (s *Store) EnabledFleets(ctx context.Context, orgID string) ([]Fleet, error) {
	f := bson.M{"enabled": true}
	if orgID != "" {
		f["org_id"] = orgID
	}
	cur, err := s.C(CollFleets).Find(ctx, f, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, classify("list fleets", err)
	}
	var out []Fleet
	if err := cur.All(ctx, &out); err != nil {
		return nil, classify("list fleets", err)
	}
	return out, nil
}

// NumbersOfAgent lists the E.164 numbers whose inbound agent is agentID.
func (s *Store) NumbersOfAgent(ctx context.Context, agentID string) ([]string, error) {
	cur, err := s.C(CollPhoneNumbers).Find(ctx, bson.M{"inbound_agent_id": agentID},
		options.Find().SetProjection(bson.M{"e164": 1}))
	if err != nil {
		return nil, classify("list numbers of agent", err)
	}
	var rows []PhoneNumber
	if err := cur.All(ctx, &rows); err != nil {
		return nil, classify("list numbers of agent", err)
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.E164
	}
	return out, nil
}

// Contact statuses set by voxbridge; the Dialler sets the others.
const (
	ContactPending   = "pending"
	ContactDoNotCall = "do_not_call"
)

// MarkDoNotCall sets every pending contact of orgID with phone to
// do_not_call, so a number listed after its upload is not dialled.
func (s *Store) MarkDoNotCall(ctx context.Context, orgID, phone string) (int64, error) {
	res, err := s.C(CollContacts).UpdateMany(ctx,
		bson.M{"org_id": orgID, "phone": phone, "status": ContactPending},
		bson.M{"$set": bson.M{"status": ContactDoNotCall, "updated_at": time.Now().UTC().Truncate(time.Millisecond)}})
	if err != nil {
		return 0, classify("mark do-not-call", err)
	}
	return res.ModifiedCount, nil
}
