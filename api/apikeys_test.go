package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/voxplatform/vox/api/auth"
	"github.com/voxplatform/vox/store"
)

// TestAPIKeysBoundedByOwner: a key acts with at most its owner's current
// role, dies with its owner, expires, records its use, and cannot make keys
// or users without an explicit scope.
func TestAPIKeysBoundedByOwner(t *testing.T) {
	h := newHarness(t)
	owner, orgID := h.org("Keys Org")
	ann, annID := addUser(h, owner, "ann@keys.test", "admin")

	k := h.must(201, "POST", "/api/v1/api-keys", ann, map[string]any{"name": "ci", "role": "admin"})
	key, keyID := k["key"].(string), k["id"].(string)
	exp, err := time.Parse(time.RFC3339, k["expires_at"].(string))
	if err != nil {
		t.Fatalf("a key without expires_in_days has no expiry: %v", k)
	}
	if d := time.Until(exp); d < 89*24*time.Hour || d > 91*24*time.Hour {
		t.Fatalf("default expiry in %v, want 90 days", d)
	}
	if k["owner_id"] != annID {
		t.Fatalf("owner_id = %v, want %s", k["owner_id"], annID)
	}
	if r := h.req("POST", "/api/v1/api-keys", ann, map[string]any{"name": "long", "expires_in_days": 400}); r.Status != 400 {
		t.Fatalf("expiry above API_KEY_MAX_TTL: %d %s", r.Status, r.Body)
	}

	// Use is recorded.
	h.must(200, "GET", "/api/v1/users", key, nil)
	got := h.must(200, "GET", "/api/v1/api-keys/"+keyID, owner, nil)
	if _, ok := got["last_used_at"].(string); !ok {
		t.Fatalf("last_used_at not recorded: %v", got)
	}

	// Without a scope, an admin key makes neither keys nor users.
	if r := h.req("POST", "/api/v1/api-keys", key, map[string]any{"name": "backdoor", "role": "admin"}); r.Status != 403 {
		t.Fatalf("key made a key without scope: %d %s", r.Status, r.Body)
	}
	if r := h.req("POST", "/api/v1/users", key, map[string]any{"email": "evil@keys.test", "role": "admin", "password": "backdoor-pass-1"}); r.Status != 403 {
		t.Fatalf("key made a user without scope: %d %s", r.Status, r.Body)
	}
	if r := h.req("DELETE", "/api/v1/api-keys/"+keyID, key, nil); r.Status != 403 {
		t.Fatalf("key deleted a key without scope: %d %s", r.Status, r.Body)
	}
	// With the scope it may, within its role and scopes, and what it makes
	// belongs to the same owner.
	k2 := h.must(201, "POST", "/api/v1/api-keys", ann, map[string]any{"name": "minter", "role": "admin", "scopes": []string{"api_keys:write"}})
	key2 := k2["key"].(string)
	k3 := h.must(201, "POST", "/api/v1/api-keys", key2, map[string]any{"name": "child", "role": "viewer"})
	if k3["owner_id"] != annID {
		t.Fatalf("a key made by a key is owned by %v, want %s", k3["owner_id"], annID)
	}
	if r := h.req("POST", "/api/v1/api-keys", key2, map[string]any{"name": "x", "scopes": []string{"users:write"}}); r.Status != 403 {
		t.Fatalf("key gave a scope it lacks: %d %s", r.Status, r.Body)
	}
	if r := h.req("POST", "/api/v1/users", key2, map[string]any{"email": "evil@keys.test", "password": "backdoor-pass-1"}); r.Status != 403 {
		t.Fatalf("api_keys:write made a user: %d %s", r.Status, r.Body)
	}

	// Demoting the owner narrows the key at once.
	h.must(200, "PATCH", "/api/v1/users/"+annID, owner, map[string]any{"role": "viewer"})
	if r := h.req("GET", "/api/v1/users", key, nil); r.Status != 403 {
		t.Fatalf("admin key of a demoted owner still reads users: %d", r.Status)
	}
	h.must(200, "GET", "/api/v1/agents", key, nil)
	if me := h.must(200, "GET", "/api/v1/auth/me", key, nil); me["role"] != "viewer" {
		t.Fatalf("key role after demotion = %v", me["role"])
	}
	// Deleting the owner revokes every key they made, directly or not.
	h.must(204, "DELETE", "/api/v1/users/"+annID, owner, nil)
	for _, kk := range []string{key, key2, k3["key"].(string)} {
		if r := h.req("GET", "/api/v1/agents", kk, nil); r.Status != 401 {
			t.Fatalf("key of a deleted owner: %d %s", r.Status, r.Body)
		}
	}

	// A key stored before expiries were required expires API_KEY_TTL after
	// its creation.
	me := h.must(200, "GET", "/api/v1/auth/me", owner, nil)
	ownerID := me["user"].(map[string]any)["id"].(string)
	legacy := func(age time.Duration) string {
		id := store.NewID()
		full, hash := auth.NewAPIKey(id)
		at := time.Now().Add(-age).UTC().Truncate(time.Millisecond)
		doc := store.APIKey{Meta: store.Meta{ID: id, OrgID: orgID, CreatedAt: at, UpdatedAt: at}, Name: "old",
			Role: "viewer", Hash: hash, CreatedBy: ownerID}
		if err := store.Insert(context.Background(), h.srv.Store(), store.CollAPIKeys, doc); err != nil {
			t.Fatal(err)
		}
		return full
	}
	if r := h.req("GET", "/api/v1/agents", legacy(100*24*time.Hour), nil); r.Status != 401 {
		t.Fatalf("key without expiry, 100 days old: %d", r.Status)
	}
	h.must(200, "GET", "/api/v1/agents", legacy(24*time.Hour), nil)
}
