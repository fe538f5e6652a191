package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
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

	StatusRank int       `bson:"status_rank" json:"-"`
	CreatedAt  time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt  time.Time `bson:"updated_at" json:"updated_at"`
}

// transcriptEntry is how a transcript entry is stored: one document per
// entry in CollTranscripts, its _id made of the call id and the entry's
// seq, so that storing an entry twice is a duplicate key and nothing else.
type transcriptEntry struct {
	ID                         string `bson:"_id"` // call id + "#" + seq
	CallID                     string `bson:"call_id"`
	OrgID                      string `bson:"org_id"`
	runtimeapi.TranscriptEntry `bson:",inline"`
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
// stale (a union by Seq commutes with every other write): each entry is a
// document of its own in CollTranscripts, keyed by call id and Seq, so an
// entry stored already is a duplicate key and left as it is — safe between
// processes without a transaction. Entries are not in the returned Call
// (see Transcript).
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
	n, err := s.appendTranscript(ctx, u.CallID, res.Call.OrgID, u.Transcript)
	if err != nil {
		return UpsertResult{}, err
	}
	res.Appended = n
	return res, nil
}

// appendTranscript stores the entries of add that the call does not have
// yet and returns how many were new. One unordered insert of one document
// per entry: an entry already stored is a duplicate key, left as it is.
func (s *Store) appendTranscript(ctx context.Context, callID, orgID string, add []runtimeapi.TranscriptEntry) (int, error) {
	docs := make([]any, len(add))
	for i, e := range add {
		docs[i] = transcriptEntry{ID: fmt.Sprintf("%s#%d", callID, e.Seq), CallID: callID, OrgID: orgID, TranscriptEntry: e}
	}
	res, err := s.C(CollTranscripts).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil {
		return len(res.InsertedIDs), nil
	}
	var bw mongo.BulkWriteException
	if !errors.As(err, &bw) || bw.WriteConcernError != nil {
		return 0, classify("append transcript of call "+callID, err)
	}
	dups := 0
	for _, we := range bw.WriteErrors {
		if !mongo.IsDuplicateKeyError(we) {
			return 0, classify("append transcript of call "+callID, err)
		}
		dups++
	}
	return len(add) - dups, nil
}

// Transcript returns the transcript of call callID of orgID, by seq.
func (s *Store) Transcript(ctx context.Context, orgID, callID string) ([]runtimeapi.TranscriptEntry, error) {
	cur, err := s.C(CollTranscripts).Find(ctx, bson.M{"call_id": callID, "org_id": orgID},
		options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}))
	if err != nil {
		return nil, classify("read transcript of call "+callID, err)
	}
	var docs []transcriptEntry
	if err := cur.All(ctx, &docs); err != nil {
		return nil, classify("read transcript of call "+callID, err)
	}
	out := make([]runtimeapi.TranscriptEntry, len(docs))
	for i, d := range docs {
		out[i] = d.TranscriptEntry
	}
	return out, nil
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
		doc := bson.M{"_id": u.CallID, "seq": NewID(), "org_id": u.OrgID, "agent_id": u.AgentID, "created_at": now}
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
