package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/voxplatform/vox/runtimeapi"
)

// Call statuses: the runtime contract's (runtimeapi). A call only ever
// moves forward through StatusRank; the terminal statuses share the highest
// rank, and once a call has one of them its status never changes again.
const (
	CallQueued     = runtimeapi.CallQueued
	CallRinging    = runtimeapi.CallRinging
	CallInProgress = runtimeapi.CallInProgress
	CallCompleted  = runtimeapi.CallCompleted
	CallFailed     = runtimeapi.CallFailed
	CallNoAnswer   = runtimeapi.CallNoAnswer
	CallBusy       = runtimeapi.CallBusy
	CallCanceled   = runtimeapi.CallCanceled
)

// StatusRank orders call statuses; an unknown status ranks 0.
func StatusRank(status string) int { return runtimeapi.StatusRank(status) }

// Call is a call record, written by the fleet through /runtime: the
// runtime contract's CallRecord plus what the Backend keeps beside it.
type Call struct {
	CallID string `bson:"_id" json:"id"`
	Seq    string `bson:"seq" json:"-"` // NewID at creation: orders lists
	OrgID  string `bson:"org_id" json:"org_id"`

	runtimeapi.CallRecord `bson:",inline"`

	StatusRank int `bson:"status_rank" json:"-"`
	// TranscriptN is len(Transcript): the version its appends are
	// conditional on.
	TranscriptN int       `bson:"transcript_n" json:"-"`
	CreatedAt   time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt   time.Time `bson:"updated_at" json:"updated_at"`
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
	Set     bson.M // other fields by bson name (see RecordSet)
	// Transcript entries to append, whatever the status does (see
	// UpsertCall).
	Transcript []runtimeapi.TranscriptEntry
}

// RecordSet returns the fields of a validated call record to set, by bson
// name: every field that is not zero but Status, AgentID and Transcript
// (which UpsertCall handles itself). Fields are merged key by key.
func RecordSet(r runtimeapi.CallRecord) bson.M {
	set := bson.M{}
	for k, v := range map[string]string{"campaign_id": r.CampaignID, "contact_id": r.ContactID,
		"direction": r.Direction, "carrier": r.Carrier, "from": r.From, "to": r.To, "end_cause": r.EndCause,
		"fleet_url": r.FleetURL, "recording_key": r.RecordingKey, "error": r.Error} {
		if v != "" {
			set[k] = v
		}
	}
	if r.SIPStatus != 0 {
		set["sip_status"] = r.SIPStatus
	}
	for k, v := range map[string]time.Time{"started_at": r.StartedAt, "answered_at": r.AnsweredAt, "ended_at": r.EndedAt} {
		if !v.IsZero() {
			set[k] = v.UTC()
		}
	}
	for k, v := range map[string]*float64{"ring_seconds": r.RingSeconds, "talk_seconds": r.TalkSeconds, "duration_seconds": r.DurationSeconds} {
		if v != nil {
			set[k] = *v
		}
	}
	for k, v := range r.Fields {
		set["fields."+k] = v // keys are validated: no dots, no $
	}
	return set
}

// UpsertResult says what UpsertCall did.
type UpsertResult struct {
	Call    Call
	Created bool // the record did not exist before
	Applied bool // false: the update was older than the stored status and was ignored
	// Appended is how many transcript entries were new.
	Appended int
	// Attached: a stale write set the recording key of a call that had
	// none (see attachRecording).
	Attached bool
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
//
// Transcript entries are then appended, whether or not the status write was
// stale (a union by Seq commutes with every other write): entries whose Seq
// is stored already are left as they are, in one update conditional on the
// stored transcript's length, retried when another writer got there first.
func (s *Store) UpsertCall(ctx context.Context, u CallUpdate) (UpsertResult, error) {
	rank := StatusRank(u.Status)
	if rank == 0 {
		return UpsertResult{}, bad("status", "unknown status %q", u.Status)
	}
	mu := &s.callLocks[stripe(u.CallID)]
	mu.Lock()
	defer mu.Unlock()
	res, err := s.upsertStatus(ctx, u, rank)
	if err != nil || len(u.Transcript) == 0 {
		return res, err
	}
	c, n, err := s.appendTranscript(ctx, u.CallID, res.Call, u.Transcript)
	if err != nil {
		return UpsertResult{}, err
	}
	res.Call, res.Appended = c, n
	return res, nil
}

// appendTranscript adds the entries of add that cur does not have.
func (s *Store) appendTranscript(ctx context.Context, callID string, cur Call, add []runtimeapi.TranscriptEntry) (Call, int, error) {
	for attempt := 0; ; attempt++ {
		merged, n := runtimeapi.MergeTranscript(cur.Transcript, add)
		if n == 0 {
			return cur, 0, nil
		}
		if len(merged) > runtimeapi.MaxTranscriptEntries {
			return cur, 0, bad("transcript", "at most %d entries per call", runtimeapi.MaxTranscriptEntries)
		}
		version := bson.M{"transcript_n": cur.TranscriptN}
		if cur.TranscriptN == 0 {
			version = bson.M{"$or": bson.A{bson.M{"transcript_n": 0}, bson.M{"transcript_n": bson.M{"$exists": false}}}}
		}
		filter := bson.M{"$and": bson.A{bson.M{"_id": callID}, version}}
		res, err := s.C(CollCalls).UpdateOne(ctx, filter, bson.M{"$set": bson.M{
			"transcript": merged, "transcript_n": len(merged),
			"updated_at": time.Now().UTC().Truncate(time.Millisecond)}})
		if err != nil {
			return cur, 0, classify("append transcript of call "+callID, err)
		}
		c, err := FindOne[Call](ctx, s, CollCalls, bson.M{"_id": callID})
		if err != nil {
			return cur, 0, fmt.Errorf("read back call %s: %w", callID, err)
		}
		if res.MatchedCount > 0 {
			return c, n, nil
		}
		if attempt == 4 {
			return c, 0, fmt.Errorf("append transcript of call %s: %w: written concurrently 5 times", callID, ErrConflict)
		}
		cur = c
	}
}

// upsertStatus is UpsertCall's status write; the caller holds the call's
// lock.
func (s *Store) upsertStatus(ctx context.Context, u CallUpdate, rank int) (UpsertResult, error) {

	now := time.Now().UTC().Truncate(time.Millisecond)
	set := bson.M{"status": u.Status, "status_rank": rank, "updated_at": now}
	for k, v := range u.Set {
		set[k] = v
	}
	coll := s.C(CollCalls)
	cur, err := FindOne[Call](ctx, s, CollCalls, bson.M{"_id": u.CallID})
	switch {
	case errors.Is(err, ErrNotFound):
		doc := bson.M{"_id": u.CallID, "seq": NewID(), "org_id": u.OrgID, "agent_id": u.AgentID, "created_at": now, "transcript_n": 0}
		fields := bson.M{}
		for k, v := range set {
			if f, ok := strings.CutPrefix(k, "fields."); ok {
				fields[f] = v // a dotted path in an update is a nested key here
				continue
			}
			doc[k] = v
		}
		if len(fields) > 0 {
			doc["fields"] = fields
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
		return s.attachRecording(ctx, u, UpsertResult{Call: cur}) // stale: nothing else to write
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
	return s.attachRecording(ctx, u, UpsertResult{Call: c, Applied: res.MatchedCount > 0})
}

// attachRecording sets the recording key of a call that has none, even
// from a stale write: a recording is uploaded after its call ended (or,
// recovered, after its worker died), and its key must reach the record
// whatever status the uploader last knew.
func (s *Store) attachRecording(ctx context.Context, u CallUpdate, r UpsertResult) (UpsertResult, error) {
	key, ok := u.Set["recording_key"].(string)
	if r.Applied || !ok || key == "" || r.Call.RecordingKey != "" {
		return r, nil
	}
	filter := bson.M{"_id": u.CallID, "$or": bson.A{
		bson.M{"recording_key": bson.M{"$exists": false}}, bson.M{"recording_key": ""}}}
	res, err := s.C(CollCalls).UpdateOne(ctx, filter, bson.M{"$set": bson.M{"recording_key": key,
		"updated_at": time.Now().UTC().Truncate(time.Millisecond)}})
	if err != nil {
		return r, classify("attach recording to call "+u.CallID, err)
	}
	if res.MatchedCount > 0 {
		r.Call.RecordingKey = key
		r.Attached = true
	}
	return r, nil
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
