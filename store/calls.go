package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Call statuses. A call only ever moves forward through StatusRank; the
// terminal statuses share the highest rank, and once a call has one of them
// its status never changes again.
const (
	CallQueued     = "queued"
	CallRinging    = "ringing"
	CallInProgress = "in-progress"
	CallCompleted  = "completed"
	CallFailed     = "failed"
	CallNoAnswer   = "no-answer"
	CallBusy       = "busy"
	CallCanceled   = "canceled"
)

// StatusRank orders call statuses; an unknown status ranks 0.
func StatusRank(status string) int {
	switch status {
	case CallQueued:
		return 1
	case CallRinging:
		return 2
	case CallInProgress:
		return 3
	case CallCompleted, CallFailed, CallNoAnswer, CallBusy, CallCanceled:
		return 4
	}
	return 0
}

// Call is a call record, written by the fleet through /runtime.
type Call struct {
	CallID string `bson:"_id" json:"id"`
	Seq    string `bson:"seq" json:"-"` // NewID at creation: orders lists

	OrgID           string     `bson:"org_id" json:"org_id"`
	AgentID         string     `bson:"agent_id" json:"agent_id"`
	CampaignID      string     `bson:"campaign_id,omitempty" json:"campaign_id,omitempty"`
	ContactID       string     `bson:"contact_id,omitempty" json:"contact_id,omitempty"`
	Direction       string     `bson:"direction,omitempty" json:"direction,omitempty"`
	From            string     `bson:"from,omitempty" json:"from,omitempty"`
	To              string     `bson:"to,omitempty" json:"to,omitempty"`
	Status          string     `bson:"status" json:"status"`
	StatusRank      int        `bson:"status_rank" json:"-"`
	FleetURL        string     `bson:"fleet_url,omitempty" json:"fleet_url,omitempty"`
	RecordingKey    string     `bson:"recording_key,omitempty" json:"recording_key,omitempty"`
	Error           string     `bson:"error,omitempty" json:"error,omitempty"`
	StartedAt       *time.Time `bson:"started_at,omitempty" json:"started_at,omitempty"`
	AnsweredAt      *time.Time `bson:"answered_at,omitempty" json:"answered_at,omitempty"`
	EndedAt         *time.Time `bson:"ended_at,omitempty" json:"ended_at,omitempty"`
	DurationSeconds *float64   `bson:"duration_seconds,omitempty" json:"duration_seconds,omitempty"`
	CreatedAt       time.Time  `bson:"created_at" json:"created_at"`
	UpdatedAt       time.Time  `bson:"updated_at" json:"updated_at"`
}

// CursorID implements Document.
func (c Call) CursorID() string { return c.Seq }

// CallUpdate is one write of a call record: Status plus the fields to set
// (absent fields keep their stored value).
type CallUpdate struct {
	CallID  string
	OrgID   string // used only when the record is created
	AgentID string // used only when the record is created
	Status  string
	Set     bson.M // other fields by bson name
}

// UpsertResult says what UpsertCall did.
type UpsertResult struct {
	Call    Call
	Created bool // the record did not exist before
	Applied bool // false: the update was older than the stored status and was ignored
}

// UpsertCall creates or updates a call record without a transaction, so
// that a retried write changes nothing new and a late one never moves the
// call backwards:
//
//   - a record that does not exist is inserted (its _id is the call id, so a
//     concurrent creation collides on the primary key and becomes an update);
//   - an update applies only while the stored status ranks below the new one
//     or equals it, in one conditional update: {_id, $or: [{status_rank:
//     {$lt: rank}}, {status: status}]}. No match means the write is stale and
//     is ignored.
//
// On MongoDB the conditional update is atomic per document, which is what
// makes this safe between several voxbridge processes. The MongoDB-wire
// server of the tests (FerretDB) evaluates the filter and writes in two
// steps, so writes of one call are also serialised within this process.
func (s *Store) UpsertCall(ctx context.Context, u CallUpdate) (UpsertResult, error) {
	rank := StatusRank(u.Status)
	if rank == 0 {
		return UpsertResult{}, bad("status", "unknown status %q", u.Status)
	}
	mu := &s.callLocks[stripe(u.CallID)]
	mu.Lock()
	defer mu.Unlock()

	now := time.Now().UTC().Truncate(time.Millisecond)
	set := bson.M{"status": u.Status, "status_rank": rank, "updated_at": now}
	for k, v := range u.Set {
		set[k] = v
	}
	coll := s.C(CollCalls)
	cur, err := FindOne[Call](ctx, s, CollCalls, bson.M{"_id": u.CallID})
	switch {
	case errors.Is(err, ErrNotFound):
		doc := bson.M{"_id": u.CallID, "seq": NewID(), "org_id": u.OrgID, "agent_id": u.AgentID, "created_at": now}
		for k, v := range set {
			doc[k] = v
		}
		_, err := coll.InsertOne(ctx, doc)
		if err == nil {
			c, err := FindOne[Call](ctx, s, CollCalls, bson.M{"_id": u.CallID})
			return UpsertResult{Call: c, Created: true, Applied: true}, err
		}
		if err = classify("insert call "+u.CallID, err); !errors.Is(err, ErrConflict) {
			return UpsertResult{}, err
		}
		// Created meanwhile by another process: update it below.
	case err != nil:
		return UpsertResult{}, err
	case cur.StatusRank > rank || (cur.StatusRank == rank && cur.Status != u.Status):
		return UpsertResult{Call: cur}, nil // stale: nothing to write
	}
	filter := bson.M{
		"_id": u.CallID,
		"$or": bson.A{
			bson.M{"status_rank": bson.M{"$lt": rank}},
			bson.M{"status": u.Status},
		},
	}
	res, err := coll.UpdateOne(ctx, filter, bson.M{"$set": set})
	if err != nil {
		return UpsertResult{}, classify("update call "+u.CallID, err)
	}
	c, err := FindOne[Call](ctx, s, CollCalls, bson.M{"_id": u.CallID})
	if err != nil {
		return UpsertResult{}, fmt.Errorf("read back call %s: %w", u.CallID, err)
	}
	return UpsertResult{Call: c, Applied: res.MatchedCount > 0}, nil
}

// stripe maps a call id to one of the call locks.
func stripe(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % callLockStripes)
}

// CallOrg returns the org and agent of an existing call record.
func (s *Store) CallOrg(ctx context.Context, callID string) (orgID, agentID string, err error) {
	var c struct {
		OrgID   string `bson:"org_id"`
		AgentID string `bson:"agent_id"`
	}
	err = s.C(CollCalls).FindOne(ctx, bson.M{"_id": callID},
		options.FindOne().SetProjection(bson.M{"org_id": 1, "agent_id": 1})).Decode(&c)
	return c.OrgID, c.AgentID, classify("find call "+callID, err)
}
