package testmongo

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

func TestStopRestartKeepsData(t *testing.T) {
	s := StartServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := mongo.Connect(ctx, options.Client().ApplyURI(s.URI()).SetServerSelectionTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	coll := c.Database("t").Collection("c")
	if _, err := coll.InsertOne(ctx, bson.M{"_id": "a", "n": 1}); err != nil {
		t.Fatalf("insert: %v", err)
	}

	s.Stop()
	pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
	err = c.Ping(pctx, nil)
	pcancel()
	if err == nil {
		t.Fatal("ping succeeded while the server was stopped")
	}

	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	var got bson.M
	deadline := time.Now().Add(30 * time.Second)
	for {
		err = coll.FindOne(ctx, bson.M{"_id": "a"}).Decode(&got)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("find after restart: %v", err)
	}
	if got["n"] != int32(1) {
		t.Fatalf("document after restart = %v", got)
	}
}
