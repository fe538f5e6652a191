package store

import (
	"context"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// CampaignContacts reads every contact of campaignID of orgID in creation
// order, in one query.
func (s *Store) CampaignContacts(ctx context.Context, orgID, campaignID string) ([]Contact, error) {
	cur, err := s.C(CollContacts).Find(ctx, bson.M{"org_id": orgID, "campaign_id": campaignID},
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, classify("read contacts of campaign "+campaignID, err)
	}
	var all []Contact
	if err := cur.All(ctx, &all); err != nil {
		return nil, classify("read contacts of campaign "+campaignID, err)
	}
	return all, nil
}
