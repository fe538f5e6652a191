package store

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// MaxPageSize is the most items one list call returns.
const MaxPageSize = 200

// Document is a stored resource that can be paged through.
type Document interface {
	// CursorID is the _id that orders the document in a list.
	CursorID() string
}

// PageQuery selects one page of a list.
type PageQuery struct {
	Cursor string // _id of the last item of the previous page; "" for the first page
	Limit  int    // 1..MaxPageSize
	Desc   bool   // newest first
	Field  string // the field that orders the list and that CursorID returns; "" is _id
}

// Page is one page of a list. NextCursor is empty on the last page.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// List returns the page of collection coll matching filter (which must
// already hold the caller's org_id).
func List[T Document](ctx context.Context, s *Store, coll string, filter bson.M, q PageQuery) (Page[T], error) {
	if q.Limit <= 0 || q.Limit > MaxPageSize {
		q.Limit = MaxPageSize
	}
	dir, op := 1, "$gt"
	if q.Desc {
		dir, op = -1, "$lt"
	}
	field := q.Field
	if field == "" {
		field = "_id"
	}
	if q.Cursor != "" {
		filter[field] = bson.M{op: q.Cursor}
	}
	opts := options.Find().SetSort(bson.D{{Key: field, Value: dir}}).SetLimit(int64(q.Limit) + 1)
	cur, err := s.C(coll).Find(ctx, filter, opts)
	if err != nil {
		return Page[T]{}, classify("list "+coll, err)
	}
	items := make([]T, 0, q.Limit)
	if err := cur.All(ctx, &items); err != nil {
		return Page[T]{}, classify("list "+coll, err)
	}
	p := Page[T]{Items: items}
	if len(items) > q.Limit {
		p.Items = items[:q.Limit]
		p.NextCursor = p.Items[q.Limit-1].CursorID()
	}
	return p, nil
}

// Get reads the document with id in orgID's part of coll.
func Get[T any](ctx context.Context, s *Store, coll, orgID, id string) (T, error) {
	var v T
	err := s.C(coll).FindOne(ctx, bson.M{"_id": id, "org_id": orgID}).Decode(&v)
	return v, classify("get "+coll+" "+id, err)
}

// FindOne reads one document of coll matching filter.
func FindOne[T any](ctx context.Context, s *Store, coll string, filter bson.M) (T, error) {
	var v T
	err := s.C(coll).FindOne(ctx, filter).Decode(&v)
	return v, classify("find "+coll, err)
}

// Insert stores a new document; a unique index violation is ErrConflict.
func Insert(ctx context.Context, s *Store, coll string, doc any) error {
	_, err := s.C(coll).InsertOne(ctx, doc)
	return classify("insert into "+coll, err)
}

// Replace stores doc over the document id of orgID, provided it was last
// updated at prev (optimistic concurrency): ErrConflict when someone changed
// it meanwhile, ErrNotFound when it is gone.
func Replace(ctx context.Context, s *Store, coll, orgID, id string, prev time.Time, doc any) error {
	res, err := s.C(coll).ReplaceOne(ctx, bson.M{"_id": id, "org_id": orgID, "updated_at": prev}, doc)
	if err != nil {
		return classify("replace in "+coll, err)
	}
	if res.MatchedCount == 0 {
		n, err := s.C(coll).CountDocuments(ctx, bson.M{"_id": id, "org_id": orgID})
		if err != nil {
			return classify("replace in "+coll, err)
		}
		if n == 0 {
			return classify("replace in "+coll, ErrNotFound)
		}
		return classify("replace in "+coll, ErrConflict)
	}
	return nil
}

// Delete removes the document id of orgID.
func Delete(ctx context.Context, s *Store, coll, orgID, id string) error {
	res, err := s.C(coll).DeleteOne(ctx, bson.M{"_id": id, "org_id": orgID})
	if err != nil {
		return classify("delete from "+coll, err)
	}
	if res.DeletedCount == 0 {
		return classify("delete from "+coll+" "+id, ErrNotFound)
	}
	return nil
}

// Count counts the documents of coll matching filter.
func Count(ctx context.Context, s *Store, coll string, filter bson.M) (int64, error) {
	n, err := s.C(coll).CountDocuments(ctx, filter)
	return n, classify("count "+coll, err)
}
