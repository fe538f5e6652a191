package api_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/voxplatform/vox/internal/testredis"
)

// wantStreamEnd waits for the stream's "unauthorized" event and its end.
func wantStreamEnd(t *testing.T, s *sse, why string) {
	t.Helper()
	e, ok := s.next(t, 15*time.Second)
	if !ok || !strings.HasPrefix(e, "event: unauthorized\n") {
		t.Fatalf("%s: stream still open or ended otherwise (%q, %v)", why, e, ok)
	}
	if e, ok := s.next(t, 15*time.Second); ok {
		t.Fatalf("%s: stream goes on after its end: %q", why, e)
	}
}

// TestEventStreamEndsWithCredentials: a stream ends at once when its token
// is revoked (logout), its user deleted or its API key deleted, instead of
// delivering for ever.
func TestEventStreamEndsWithCredentials(t *testing.T) {
	h := newHarness(t)
	owner, _ := h.org("Stream Org")
	ann, _ := addUser(h, owner, "ann@stream.test", "viewer")
	bob, bobID := addUser(h, owner, "bob@stream.test", "viewer")
	key := h.must(201, "POST", "/api/v1/api-keys", owner, map[string]any{"name": "watcher"})

	s := openEvents(t, h, ann)
	h.must(204, "POST", "/api/v1/auth/logout", ann, nil)
	wantStreamEnd(t, s, "after logout")

	s = openEvents(t, h, bob)
	h.must(204, "DELETE", "/api/v1/users/"+bobID, owner, nil)
	wantStreamEnd(t, s, "after the user's deletion")

	s = openEvents(t, h, key["key"].(string))
	h.must(204, "DELETE", "/api/v1/api-keys/"+key["id"].(string), owner, nil)
	wantStreamEnd(t, s, "after the key's deletion")

	// The owner's own stream is untouched by all of this and still delivers.
	mine := openEvents(t, h, owner)
	agent := h.must(201, "POST", "/api/v1/agents", owner, agentBody("E"))["id"].(string)
	h.must(201, "PUT", "/runtime/calls/ST1", h.service(), map[string]any{"agent_id": agent, "status": "ringing"})
	if e, ok := mine.next(t, 10*time.Second); !ok || !strings.HasPrefix(e, "event: call\n") {
		t.Fatalf("owner's stream: %q %v", e, ok)
	}
}

// TestEventStreamRechecks: a revocation whose message never reached the
// stream (written straight to Redis, as another process would) ends it at
// the next periodic check.
func TestEventStreamRechecks(t *testing.T) {
	m, r := sharedServers(t)
	cfg := testConfig(t, m, r)
	cfg.EventsRecheck = 200 * time.Millisecond
	h := start(t, cfg, false)
	owner, _ := h.org("Recheck Org")
	ann, annID := addUser(h, owner, "ann@recheck.test", "viewer")
	s := openEvents(t, h, ann)
	opt, _ := redis.ParseURL(r)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	cut := strconv.FormatInt(time.Now().Add(time.Second).UnixMilli(), 10)
	if err := rdb.Set(context.Background(), "vox:auth:cutoff:"+annID, cut, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	wantStreamEnd(t, s, "after a silent revocation")
}

// TestEventStreamLimitsAndSharedSubscription: streams are limited per user
// and per organisation (429), and all streams of an organisation share one
// Redis subscription.
func TestEventStreamLimitsAndSharedSubscription(t *testing.T) {
	m, _ := sharedServers(t)
	rs := testredis.StartServer(t) // its own Redis: the subscription count is global
	cfg := testConfig(t, m, rs.URL())
	cfg.EventsMaxPerUser, cfg.EventsMaxPerOrg = 3, 5
	h := start(t, cfg, false)
	owner, orgID := h.org("Limit Stream Org")
	ann, _ := addUser(h, owner, "ann@streams.test", "viewer")
	for i := 0; i < 3; i++ {
		openEvents(t, h, owner)
	}
	r := h.req("GET", "/api/v1/events", owner, nil)
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("4th stream of one user: %d %s", r.Status, r.Body)
	}
	r.ErrorMsg(t)
	openEvents(t, h, ann)
	openEvents(t, h, ann)
	if r := h.req("GET", "/api/v1/events", ann, nil); r.Status != http.StatusTooManyRequests {
		t.Fatalf("6th stream of one organisation: %d %s", r.Status, r.Body)
	}
	other, _ := h.org("Other Stream Org")
	openEvents(t, h, other)

	opt, _ := redis.ParseURL(rs.URL())
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx := context.Background()
	n, err := rdb.PubSubNumSub(ctx, "vox:events:"+orgID).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n["vox:events:"+orgID] != 1 {
		t.Fatalf("5 streams of one organisation hold %d Redis subscriptions, want 1", n["vox:events:"+orgID])
	}
	list, err := rdb.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	subs := 0
	for _, l := range strings.Split(list, "\n") {
		if strings.Contains(l, "flags=P") {
			subs++
		}
	}
	if subs != 1 {
		t.Fatalf("6 streams of 2 organisations hold %d Redis pub/sub connections, want 1:\n%s", subs, list)
	}
	metrics := string(h.req("GET", "/metrics", "", nil).Body)
	for _, want := range []string{"voxbridge_event_streams 6", "voxbridge_event_subscriptions 2"} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
