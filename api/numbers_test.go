package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/voxplatform/vox/store"
)

// TestPhoneNumberVerification: the first organisation to register a number
// no longer owns its inbound calls. Any organisation may register it (a
// duplicate in another organisation is not a 409 that tells it exists); it
// takes inbound calls only once the platform verifies it for one
// organisation, through the trunk it names or an operator's claim; editing
// the number or its trunk, or deleting it, gives the calls up.
func TestPhoneNumberVerification(t *testing.T) {
	h := newHarness(t)
	tokA, orgA := h.org("Squatter Org")
	tokB, orgB := h.org("Owner Org")
	svc := h.service()
	const num = "+442079460958"
	agentA := h.must(201, "POST", "/api/v1/agents", tokA, agentBody("Squatter"))["id"].(string)
	agentB := h.must(201, "POST", "/api/v1/agents", tokB, agentBody("Owner"))["id"].(string)

	// A registers first; B registering the same number is not told it exists.
	nA := h.must(201, "POST", "/api/v1/phone-numbers", tokA, map[string]any{"e164": num, "trunk_id": "ST_squat", "inbound_agent_id": agentA})
	if nA["status"] != "pending" {
		t.Fatalf("a new number = %v, want status pending", nA)
	}
	nB := h.must(201, "POST", "/api/v1/phone-numbers", tokB, map[string]any{"e164": "+44 20 7946 0958", "trunk_id": "ST_owner", "inbound_agent_id": agentB})
	// The same number twice in one organisation is a conflict that says
	// nothing about anyone else.
	if r := h.req("POST", "/api/v1/phone-numbers", tokB, map[string]any{"e164": num}); r.Status != http.StatusConflict ||
		strings.Contains(strings.ToLower(r.ErrorMsg(t)), "organisation") {
		t.Fatalf("duplicate in the same organisation = %d %s", r.Status, r.Body)
	}
	byNumber := func() (int, string) {
		r := h.req("GET", "/runtime/agents/by-number/"+num, svc, nil)
		if r.Status != 200 {
			return r.Status, ""
		}
		return 200, r.JSON(t)["id"].(string)
	}
	if code, id := byNumber(); code != http.StatusNotFound {
		t.Fatalf("inbound call to an unverified number went to %d %q, want 404", code, id)
	}

	verify := func(orgID, trunk string) (int, string) {
		body := map[string]any{"org_id": orgID, "e164": num}
		if trunk != "" {
			body["trunk_id"] = trunk
		}
		r := h.req("POST", "/runtime/phone-numbers/verify", svc, body)
		if r.Status != 200 {
			return r.Status, r.ErrorMsg(t)
		}
		return 200, r.JSON(t)["verified_via"].(string)
	}
	// The trunk B's registration names carries it: B's calls.
	if code, msg := verify(orgB, "ST_squat"); code != http.StatusBadRequest {
		t.Fatalf("verify with another trunk = %d %s, want 400", code, msg)
	}
	if code, via := verify(orgB, "ST_owner"); code != 200 || via != "trunk" {
		t.Fatalf("verify B through its trunk = %d %s", code, via)
	}
	if code, via := verify(orgB, "ST_owner"); code != 200 || via != "trunk" {
		t.Fatalf("verify again = %d %s, want 200 (idempotent)", code, via)
	}
	if code, id := byNumber(); id != agentB {
		t.Fatalf("inbound call went to %d %q, want B's agent %s", code, id, agentB)
	}
	// A cannot be verified for it while B holds it, and A's view of its own
	// registration still says pending.
	if code, msg := verify(orgA, ""); code != http.StatusConflict {
		t.Fatalf("verify A while B holds it = %d %s, want 409", code, msg)
	}
	if n := h.must(200, "GET", "/api/v1/phone-numbers/"+nA["id"].(string), tokA, nil); n["status"] != "pending" {
		t.Fatalf("A's registration = %v, want pending", n)
	}
	// An organisation cannot verify its own number by writing the status.
	h.must(400, "PATCH", "/api/v1/phone-numbers/"+nA["id"].(string), tokA, map[string]any{"status": "verified", "verified_via": "operator"})
	if n := h.must(200, "GET", "/api/v1/phone-numbers/"+nA["id"].(string), tokA, nil); n["status"] != "pending" {
		t.Fatalf("A's registration after writing status = %v, want pending", n)
	}

	// B moves the number to another trunk: what was verified no longer
	// holds, the number takes no call, and an operator can give it to A.
	n := h.must(200, "PATCH", "/api/v1/phone-numbers/"+nB["id"].(string), tokB, map[string]any{"trunk_id": "ST_other"})
	if n["status"] != "pending" {
		t.Fatalf("B's number after a trunk change = %v, want pending", n)
	}
	if code, id := byNumber(); code != http.StatusNotFound {
		t.Fatalf("inbound call after the trunk change went to %d %q, want 404", code, id)
	}
	if code, via := verify(orgA, ""); code != 200 || via != "operator" {
		t.Fatalf("operator's claim for A = %d %s", code, via)
	}
	if code, id := byNumber(); id != agentA {
		t.Fatalf("inbound call went to %d %q, want A's agent", code, id)
	}
	// Deleting the verified registration gives its calls up at once.
	h.must(204, "DELETE", "/api/v1/phone-numbers/"+nA["id"].(string), tokA, nil)
	if code, id := byNumber(); code != http.StatusNotFound {
		t.Fatalf("inbound call after delete went to %d %q, want 404", code, id)
	}
	if code, via := verify(orgB, "ST_other"); code != 200 || via != "trunk" {
		t.Fatalf("verify B again = %d %s", code, via)
	}
	// A number nobody registered cannot be verified.
	if r := h.req("POST", "/runtime/phone-numbers/verify", svc, map[string]any{"org_id": orgA, "e164": "+14155550199"}); r.Status != 404 {
		t.Fatalf("verify an unregistered number = %d %s", r.Status, r.Body)
	}
}

// TestPhoneNumberIndexUpgrade: a database from before verification has a
// unique index on e164 across organisations; booting drops it, so a second
// organisation can register a number the first one holds.
func TestPhoneNumberIndexUpgrade(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	// The server creates its indexes in the background when it starts,
	// dropping the old one: plant the old index after that, as a database
	// from before would have it.
	deadline := time.Now().Add(30 * time.Second)
	for !h.srv.IndexesReady() {
		if time.Now().After(deadline) {
			t.Fatal("the server's indexes were not ready in 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, err := h.srv.Store().C(store.CollPhoneNumbers).Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "e164", Value: 1}}, Options: options.Index().SetUnique(true).SetName("e164_1")})
	if err != nil {
		t.Fatal(err)
	}
	tokA, _ := h.org("Old Org")
	tokB, _ := h.org("New Org")
	h.must(201, "POST", "/api/v1/phone-numbers", tokA, map[string]any{"e164": "+442079460777"})
	if r := h.req("POST", "/api/v1/phone-numbers", tokB, map[string]any{"e164": "+442079460777"}); r.Status != http.StatusConflict {
		t.Fatalf("with the old index in place: %d %s, want 409 (the index is what this test removes)", r.Status, r.Body)
	}
	if err := h.srv.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	h.must(201, "POST", "/api/v1/phone-numbers", tokB, map[string]any{"e164": "+442079460777"})
}
