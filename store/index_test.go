package store

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/voxplatform/vox/internal/testmongo"
)

// TestUsersEmailIndexUpgrade: a database made by an earlier release has a
// unique index on users.email; EnsureIndexes replaces it with one unique per
// organisation, so that one e-mail may have accounts in two organisations.
func TestUsersEmailIndexUpgrade(t *testing.T) {
	s, err := Open(testmongo.Start(t), "vox")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old := mongo.IndexModel{Keys: bson.D{{Key: "email", Value: 1}}, Options: options.Index().SetUnique(true).SetName("email_1")}
	if _, err := s.C(CollUsers).Indexes().CreateOne(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	user := func(org string) User {
		return User{Meta: Meta{ID: NewID(), OrgID: org, CreatedAt: now, UpdatedAt: now}, Email: "pat@x.test", Role: RoleViewer}
	}
	if err := Insert(ctx, s, CollUsers, user("org-a")); err != nil {
		t.Fatal(err)
	}
	if err := Insert(ctx, s, CollUsers, user("org-b")); err != nil {
		t.Fatalf("same e-mail in another organisation: %v", err)
	}
	if err := Insert(ctx, s, CollUsers, user("org-b")); err == nil {
		t.Fatal("same e-mail twice in one organisation accepted")
	}
}
