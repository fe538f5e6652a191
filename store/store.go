package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"go.mongodb.org/mongo-driver/x/mongo/driver/topology"
)

// Collection names.
const (
	CollOrgs         = "orgs"
	CollUsers        = "users"
	CollAPIKeys      = "api_keys"
	CollAgents       = "agents"
	CollPhoneNumbers = "phone_numbers"
	CollCampaigns    = "campaigns"
	CollContacts     = "contacts"
	CollDNC          = "do_not_call"
	CollCalls        = "calls"
	CollTranscripts  = "call_transcripts" // one document per transcript entry
	CollFleets       = "fleets"
)

// Errors the store classifies; test with errors.Is.
var (
	ErrNotFound    = errors.New("not found")
	ErrConflict    = errors.New("conflict")
	ErrUnavailable = errors.New("database unavailable")
)

// Store is a connected MongoDB database.
type Store struct {
	client *mongo.Client
	db     *mongo.Database
	// callLocks serialise writes of one call record in this process, by
	// stripe of call id (see UpsertCall).
	callLocks [callLockStripes]sync.Mutex
}

// Open creates a client for uri and database name. It does not wait for the
// server: the driver connects in the background and reconnects after an
// outage by itself.
func Open(uri, name string) (*Store, error) {
	opts := options.Client().ApplyURI(uri).
		SetServerSelectionTimeout(2 * time.Second).
		SetConnectTimeout(2 * time.Second).
		SetRetryWrites(false) // FerretDB and standalone servers have no retryable writes
	c, err := mongo.Connect(context.Background(), opts)
	if err != nil {
		return nil, fmt.Errorf("mongodb client for %s: %w", redact(uri), err)
	}
	return &Store{client: c, db: c.Database(name)}, nil
}

// Close disconnects.
func (s *Store) Close(ctx context.Context) error { return s.client.Disconnect(ctx) }

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error {
	return classify("ping mongodb", s.client.Ping(ctx, nil))
}

// C returns the named collection.
func (s *Store) C(name string) *mongo.Collection { return s.db.Collection(name) }

// EnsureIndexes creates every index the queries rely on. Creating an index
// that already exists does nothing, so it runs at every boot.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	idx := func(unique bool, keys ...string) mongo.IndexModel {
		d := bson.D{}
		for _, k := range keys {
			d = append(d, bson.E{Key: k, Value: 1})
		}
		m := mongo.IndexModel{Keys: d}
		if unique {
			m.Options = options.Index().SetUnique(true)
		}
		return m
	}
	want := map[string][]mongo.IndexModel{
		CollOrgs: {idx(true, "name")},
		// An e-mail is unique within an organisation, not across them: a
		// global unique index would tell one tenant that another has the
		// address.
		CollUsers:        {idx(true, "org_id", "email"), idx(false, "email", "org_id"), idx(false, "org_id", "_id")},
		CollAPIKeys:      {idx(false, "org_id", "_id")},
		CollAgents:       {idx(false, "org_id", "_id")},
		CollPhoneNumbers: {idx(true, "org_id", "e164"), idx(false, "org_id", "_id"), idx(false, "inbound_agent_id")},
		CollCampaigns:    {idx(false, "org_id", "_id"), idx(false, "status")},
		CollContacts: {idx(true, "campaign_id", "phone"), idx(false, "org_id", "campaign_id", "_id"),
			idx(false, "campaign_id", "status", "_id"), idx(false, "status", "lease_until"), // the Dialler's leases
			idx(false, "org_id", "phone")}, // the Dialler's quiet period after an abandon, per number
		CollDNC:         {idx(true, "org_id", "phone")},
		CollCalls:       {idx(false, "org_id", "seq"), idx(false, "org_id", "status"), idx(false, "campaign_id", "answered_at")},
		CollTranscripts: {idx(false, "call_id", "seq")},
		CollFleets:      {idx(true, "org_id", "url"), idx(false, "enabled")},
	}
	for coll, models := range want {
		if err := s.ensure(ctx, coll, models); err != nil {
			return err
		}
	}
	// Indexes of earlier releases that now forbid what is allowed: an
	// e-mail unique across organisations, and a phone number unique across
	// organisations (the first to register one owned its calls; numbers
	// are now unique per organisation and verified through
	// CollNumberClaims).
	if err := s.dropObsolete(ctx, CollUsers, "email_1"); err != nil {
		return err
	}
	return s.dropObsolete(ctx, CollPhoneNumbers, "e164_1")
}

// dropObsolete drops the named index of coll if it exists (indexes of an
// earlier release that the current one must not keep).
func (s *Store) dropObsolete(ctx context.Context, coll, name string) error {
	cur, err := s.C(coll).Indexes().List(ctx)
	if err != nil {
		return classify("list indexes of "+coll, err)
	}
	var have []struct {
		Name string `bson:"name"`
	}
	if err := cur.All(ctx, &have); err != nil {
		return classify("list indexes of "+coll, err)
	}
	for _, h := range have {
		if h.Name == name {
			if _, err := s.C(coll).Indexes().DropOne(ctx, name); err != nil {
				return classify("drop index "+name+" of "+coll, err)
			}
		}
	}
	return nil
}

// ensure creates the indexes of coll that do not exist yet, one at a time:
// the MongoDB-wire server of the tests fails on a createIndexes command that
// repeats existing indexes, so existing names are listed and skipped.
func (s *Store) ensure(ctx context.Context, coll string, models []mongo.IndexModel) error {
	cur, err := s.C(coll).Indexes().List(ctx)
	if err != nil {
		return classify("list indexes of "+coll, err)
	}
	var have []struct {
		Name string `bson:"name"`
	}
	if err := cur.All(ctx, &have); err != nil {
		return classify("list indexes of "+coll, err)
	}
	exists := map[string]bool{}
	for _, h := range have {
		exists[h.Name] = true
	}
	for _, m := range models {
		var parts []string
		for _, e := range m.Keys.(bson.D) {
			parts = append(parts, fmt.Sprintf("%s_%v", e.Key, e.Value))
		}
		name := strings.Join(parts, "_")
		if exists[name] {
			continue
		}
		opts := m.Options
		if opts == nil {
			opts = options.Index()
		}
		m.Options = opts.SetName(name)
		if _, err := s.C(coll).Indexes().CreateOne(ctx, m); err != nil {
			return classify("create index "+name+" on "+coll, err)
		}
	}
	return nil
}

// NewID returns a new time-ordered document id (an ObjectID in hex), so that
// sorting by _id is sorting by creation.
func NewID() string { return primitive.NewObjectID().Hex() }

// ValidID reports whether s has the form NewID returns.
func ValidID(s string) bool {
	_, err := primitive.ObjectIDFromHex(s)
	return err == nil && len(s) == 24
}

// classify wraps err with op and one of the store's sentinel errors.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var sse topology.ServerSelectionError
	var ne net.Error
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	case mongo.IsDuplicateKeyError(err):
		return fmt.Errorf("%s: %w: %w", op, ErrConflict, err)
	case errors.As(err, &sse), mongo.IsNetworkError(err), mongo.IsTimeout(err), errors.As(err, &ne),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, topology.ErrServerSelectionTimeout):
		return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// redact hides the password of a connection string for logs.
func redact(uri string) string {
	cs := []rune(uri)
	at, colon := -1, -1
	for i, r := range cs {
		if r == '@' {
			at = i
		}
	}
	if at < 0 {
		return uri
	}
	for i := at; i >= 0; i-- {
		if cs[i] == ':' && i > 0 && cs[i-1] != '/' {
			colon = i
			break
		}
		if cs[i] == '/' {
			break
		}
	}
	if colon < 0 {
		return uri
	}
	return string(cs[:colon+1]) + "***" + string(cs[at:])
}

// callLockStripes is the number of call record locks.
const callLockStripes = 64
