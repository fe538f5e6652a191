package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/voxplatform/vox/importer"
	"github.com/voxplatform/vox/internal/testmongo"
	"github.com/voxplatform/vox/runtimeapi"
)

func open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(testmongo.Start(t), "vox")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureIndexes(ctx); err != nil {
		t.Fatalf("second EnsureIndexes: %v", err)
	}
	return s
}

func TestStore(t *testing.T) {
	s := open(t)
	ctx := context.Background()

	t.Run("bootstrap idempotent", func(t *testing.T) {
		u := User{Email: "o@example.com", PasswordHash: "h"}
		created, err := s.Bootstrap(ctx, "acme", u)
		if err != nil || !created {
			t.Fatalf("first: %v %v", created, err)
		}
		created, err = s.Bootstrap(ctx, "acme", u)
		if err != nil || created {
			t.Fatalf("second: %v %v", created, err)
		}
		if _, err := s.Bootstrap(ctx, "other", u); !errors.Is(err, ErrConflict) {
			t.Fatalf("owner of another org: %v", err)
		}
		n, _ := Count(ctx, s, CollUsers, bson.M{})
		if n != 1 {
			t.Fatalf("users = %d", n)
		}
	})

	t.Run("calls monotonic and idempotent", func(t *testing.T) {
		up := func(status string, set bson.M) UpsertResult {
			r, err := s.UpsertCall(ctx, CallUpdate{CallID: "c1", OrgID: "o1", AgentID: "a1", Status: status, Set: set})
			if err != nil {
				t.Fatalf("%s: %v", status, err)
			}
			return r
		}
		if r := up(CallRinging, bson.M{"to": "+14155552671"}); !r.Created || !r.Applied {
			t.Fatalf("create: %+v", r)
		}
		if r := up(CallRinging, nil); r.Created || !r.Applied {
			t.Fatalf("retry: %+v", r)
		}
		if r := up(CallCompleted, bson.M{"duration_seconds": 12.5}); !r.Applied || r.Call.Status != CallCompleted {
			t.Fatalf("complete: %+v", r)
		}
		if r := up(CallInProgress, bson.M{"to": "+10000000000"}); r.Applied || r.Call.Status != CallCompleted || r.Call.To != "+14155552671" {
			t.Fatalf("late in-progress moved the call: %+v", r)
		}
		if r := up(CallFailed, nil); r.Applied || r.Call.Status != CallCompleted {
			t.Fatalf("terminal changed: %+v", r)
		}
		if r := up(CallCompleted, bson.M{"recording_key": "k"}); !r.Applied || r.Call.RecordingKey != "k" || r.Call.OrgID != "o1" {
			t.Fatalf("same terminal with more fields: %+v", r)
		}
		n, _ := Count(ctx, s, CollCalls, bson.M{"_id": "c1"})
		if n != 1 {
			t.Fatalf("records = %d", n)
		}
	})

	t.Run("concurrent writes of one call", func(t *testing.T) {
		var wg sync.WaitGroup
		statuses := []string{CallQueued, CallRinging, CallInProgress, CallCompleted}
		for i := 0; i < 40; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, err := s.UpsertCall(ctx, CallUpdate{CallID: fmt.Sprintf("c2-%d", i/8), OrgID: "o1", AgentID: "a1", Status: statuses[i%4]})
				if err != nil {
					t.Error(err)
				}
			}(i)
		}
		wg.Wait()
		for i := 0; i < 5; i++ {
			c, err := FindOne[Call](ctx, s, CollCalls, bson.M{"_id": fmt.Sprintf("c2-%d", i)})
			if err != nil || c.Status != CallCompleted {
				t.Fatalf("final = %+v, %v", c, err)
			}
		}
	})

	t.Run("transcript appended once per seq under concurrency", func(t *testing.T) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var entries []runtimeapi.TranscriptEntry
				for i := range 20 { // writers overlap: each sends seqs w .. w+19
					entries = append(entries, runtimeapi.TranscriptEntry{Seq: w + i, Speaker: runtimeapi.SpeakerAgent,
						Text: fmt.Sprint("from ", w), At: time.Now()})
				}
				r, err := s.UpsertCall(ctx, CallUpdate{CallID: "tr1", OrgID: "o1", AgentID: "a1", Status: CallInProgress, Transcript: entries})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				total += r.Appended
				mu.Unlock()
			}()
		}
		wg.Wait()
		tr, err := s.Transcript(ctx, "o1", "tr1")
		if err != nil || len(tr) != 27 || total != 27 {
			t.Fatalf("%d entries stored, %d counted as appended, %v; want 27", len(tr), total, err)
		}
		for i, e := range tr {
			if e.Seq != i {
				t.Fatalf("entry %d has seq %d", i, e.Seq)
			}
		}
		if other, _ := s.Transcript(ctx, "o2", "tr1"); len(other) != 0 {
			t.Fatal("another organisation reads the transcript")
		}
	})

	t.Run("contacts dedupe", func(t *testing.T) {
		rows := []importer.Row{{Phone: "+14155550001"}, {Phone: "+14155550002"}}
		in, dup, err := s.InsertContacts(ctx, "o1", "camp", rows)
		if err != nil || in != 2 || dup != 0 {
			t.Fatalf("first: %d %d %v", in, dup, err)
		}
		rows = append(rows, importer.Row{Phone: "+14155550003"})
		in, dup, err = s.InsertContacts(ctx, "o1", "camp", rows)
		if err != nil || in != 1 || dup != 2 {
			t.Fatalf("second: %d %d %v", in, dup, err)
		}
	})

	t.Run("pagination", func(t *testing.T) {
		for i := 0; i < 5; i++ {
			a := Agent{Meta: Meta{ID: NewID(), OrgID: "pg"}, AgentSettings: runtimeapi.AgentSettings{Name: fmt.Sprint(i)}}
			if err := Insert(ctx, s, CollAgents, a); err != nil {
				t.Fatal(err)
			}
		}
		var names []string
		q := PageQuery{Limit: 2}
		for pages := 0; ; pages++ {
			p, err := List[Agent](ctx, s, CollAgents, bson.M{"org_id": "pg"}, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range p.Items {
				names = append(names, a.Name)
			}
			if p.NextCursor == "" {
				break
			}
			q.Cursor = p.NextCursor
		}
		if fmt.Sprint(names) != "[0 1 2 3 4]" {
			t.Fatalf("names = %v", names)
		}
	})
}
