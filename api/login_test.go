package api_test

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestLoginUnknownEmailCostsAsMuch compares the time of a login for an
// unknown e-mail with a wrong password for a known one. Both must spend a
// bcrypt comparison at the configured cost; before, the unknown e-mail was
// compared against a hash of bcrypt's minimum cost and answered ~16 times
// faster. The assertion is on the ratio of medians, with a wide margin.
func TestLoginUnknownEmailCostsAsMuch(t *testing.T) {
	m, r := sharedServers(t)
	cfg := testConfig(t, m, r)
	cfg.BcryptCost = 8
	cfg.LoginMaxPerAccountAddress, cfg.LoginMaxPerAccount = 1000, 1000
	h := start(t, cfg, false)
	owner, _ := h.org("Timing Org")
	addUser(h, owner, "known@timing.test", "viewer")

	timeLogin := func(email string) time.Duration {
		start := time.Now()
		if r := login(h, email, "wrong-password-9"); r.Status != 401 {
			t.Fatalf("login %s: %d %s", email, r.Status, r.Body)
		}
		return time.Since(start)
	}
	var known, unknown []time.Duration
	for i := 0; i < 7; i++ {
		known = append(known, timeLogin("known@timing.test"))
		unknown = append(unknown, timeLogin(fmt.Sprintf("nobody%d@timing.test", i)))
	}
	slices.Sort(known)
	slices.Sort(unknown)
	mk, mu := known[len(known)/2], unknown[len(unknown)/2]
	t.Logf("median login: known e-mail %v, unknown e-mail %v", mk, mu)
	if mu*3 < mk {
		t.Fatalf("unknown e-mail answered in %v, known in %v: the difference tells which accounts exist", mu, mk)
	}
}

// TestUserEmailOfAnotherOrg: creating a user whose e-mail has an account in
// another organisation must look like creating any new user (it used to
// answer 409, telling one tenant about another's staff). Each account then
// logs in with its own password; one password opening both asks for org_id.
func TestUserEmailOfAnotherOrg(t *testing.T) {
	h := newHarness(t)
	ownerA, orgA := h.org("Email Org A")
	ownerB, orgB := h.org("Email Org B")
	h.must(201, "POST", "/api/v1/users", ownerA, map[string]any{"email": "pat@shared.test", "role": "viewer", "password": "password-of-a-1"})
	r := h.req("POST", "/api/v1/users", ownerB, map[string]any{"email": "Pat@Shared.test", "role": "viewer", "password": "password-of-b-1"})
	if r.Status != 201 {
		t.Fatalf("e-mail of another organisation: %d %s (must not differ from a new e-mail)", r.Status, r.Body)
	}
	// Within one organisation an e-mail is still unique.
	if r := h.req("POST", "/api/v1/users", ownerB, map[string]any{"email": "pat@shared.test", "password": "password-of-b-2"}); r.Status != 409 {
		t.Fatalf("same e-mail twice in one organisation: %d %s", r.Status, r.Body)
	}
	for pw, org := range map[string]string{"password-of-a-1": orgA, "password-of-b-1": orgB} {
		tok := login(h, "pat@shared.test", pw).JSON(t)["access_token"].(string)
		if me := h.must(200, "GET", "/api/v1/auth/me", tok, nil); me["org_id"] != org {
			t.Fatalf("password %s logged in to %v, want %s", pw, me["org_id"], org)
		}
	}
	// B's admin sees only B's Pat.
	l := h.must(200, "GET", "/api/v1/users?email=pat@shared.test", ownerB, nil)
	if n := len(l["items"].([]any)); n != 1 {
		t.Fatalf("B lists %d users named pat", n)
	}
	uid := l["items"].([]any)[0].(map[string]any)["id"].(string)
	h.must(200, "PATCH", "/api/v1/users/"+uid, ownerB, map[string]any{"password": "password-of-a-1"})
	if r := login(h, "pat@shared.test", "password-of-a-1"); r.Status != 409 {
		t.Fatalf("one password for two accounts: %d %s", r.Status, r.Body)
	}
	r = h.req("POST", "/api/v1/auth/login", "", map[string]string{"email": "pat@shared.test", "password": "password-of-a-1", "org_id": orgB})
	if r.Status != 200 {
		t.Fatalf("login naming the organisation: %d %s", r.Status, r.Body)
	}
}
