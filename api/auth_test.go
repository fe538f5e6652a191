package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/voxplatform/vox/api/auth"
	"github.com/voxplatform/vox/internal/testredis"
)

func login(h *harness, email, password string) resp {
	return h.req("POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": password})
}

// addUser creates a user of role through the API and logs them in.
func addUser(h *harness, owner, email, role string) (token, id string) {
	h.t.Helper()
	u := h.must(201, "POST", "/api/v1/users", owner, map[string]any{"email": email, "name": role, "role": role, "password": "user-password-1"})
	r := login(h, email, "user-password-1")
	if r.Status != 200 {
		h.t.Fatalf("login %s: %d %s", email, r.Status, r.Body)
	}
	return r.JSON(h.t)["access_token"].(string), u["id"].(string)
}

func TestLoginRefreshLogout(t *testing.T) {
	h := newHarness(t)
	owner, _ := h.org("Auth Org")
	_, _ = addUser(h, owner, "ann@auth.test", "operator")

	if r := login(h, "ann@auth.test", "wrong-password"); r.Status != 401 || r.ErrorMsg(t) != "wrong e-mail or password" {
		t.Fatalf("wrong password: %d %s", r.Status, r.Body)
	}
	if r := login(h, "nobody@auth.test", "user-password-1"); r.Status != 401 {
		t.Fatalf("unknown user: %d", r.Status)
	}
	r := login(h, "ANN@auth.test ", "user-password-1")
	if r.Status != 200 {
		t.Fatalf("login with other case: %d %s", r.Status, r.Body)
	}
	pair := r.JSON(t)
	access, refresh := pair["access_token"].(string), pair["refresh_token"].(string)
	if pair["expires_in"].(float64) != 900 {
		t.Fatalf("expires_in = %v", pair["expires_in"])
	}
	// The refresh token is not an access token and vice versa.
	if r := h.req("GET", "/api/v1/agents", refresh, nil); r.Status != 401 {
		t.Fatalf("refresh token used as access token: %d", r.Status)
	}
	if r := h.req("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": access}); r.Status != 401 {
		t.Fatalf("access token used as refresh token: %d", r.Status)
	}
	// Refresh rotates: the old refresh token works once.
	p2 := h.must(200, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": refresh})
	h.must(200, "GET", "/api/v1/agents", p2["access_token"].(string), nil)
	// Using it again after its grace window means it was copied: every
	// token of the user is void.
	time.Sleep(h.cfg.RefreshGrace + 100*time.Millisecond)
	if r := h.req("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": refresh}); r.Status != 401 {
		t.Fatalf("refresh token reused: %d", r.Status)
	}
	for _, tok := range []string{p2["access_token"].(string), access} {
		if r := h.req("GET", "/api/v1/agents", tok, nil); r.Status != 401 {
			t.Fatalf("token survived refresh reuse: %d", r.Status)
		}
	}
	if r := h.req("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": p2["refresh_token"].(string)}); r.Status != 401 {
		t.Fatalf("rotated refresh token survived reuse: %d", r.Status)
	}
	// A new login works again.
	r = login(h, "ann@auth.test", "user-password-1")
	if r.Status != 200 {
		t.Fatalf("login after reuse: %d %s", r.Status, r.Body)
	}
	access = r.JSON(t)["access_token"].(string)
	p2 = h.must(200, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": r.JSON(t)["refresh_token"].(string)})
	access2, refresh2 := p2["access_token"].(string), p2["refresh_token"].(string)
	h.must(200, "GET", "/api/v1/agents", access2, nil)
	// Logout revokes the access token and the given refresh token.
	h.must(204, "POST", "/api/v1/auth/logout", access2, map[string]string{"refresh_token": refresh2})
	if r := h.req("GET", "/api/v1/agents", access2, nil); r.Status != 401 || r.ErrorMsg(t) != "unauthorized" {
		t.Fatalf("access after logout: %d %s", r.Status, r.Body)
	}
	if r := h.req("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": refresh2}); r.Status != 401 {
		t.Fatalf("refresh after logout: %d", r.Status)
	}
	// The first access token is still valid: logout is per session.
	h.must(200, "GET", "/api/v1/agents", access, nil)
}

func TestBadTokens(t *testing.T) {
	h := newHarness(t)
	_, orgID := h.org("Token Org")
	secret := []byte(h.cfg.JWTSecret)
	claims := func(mod func(c *auth.Claims)) auth.Claims {
		c := auth.Claims{RegisteredClaims: jwt.RegisteredClaims{ID: "x", Subject: "u", Audience: jwt.ClaimStrings{auth.Audience},
			Issuer: auth.Audience, ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Minute))},
			OrgID: orgID, Role: "owner", Type: auth.TypeAccess}
		mod(&c)
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c auth.Claims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := sign(jwt.SigningMethodHS256, secret, claims(func(*auth.Claims) {}))
	h.must(200, "GET", "/api/v1/agents", good, nil) // the forge kit is right…
	cases := map[string]string{                     // …so each of these fails for its one reason
		"wrong key":      sign(jwt.SigningMethodHS256, []byte(strings.Repeat("z", 40)), claims(func(*auth.Claims) {})),
		"HS512":          sign(jwt.SigningMethodHS512, secret, claims(func(*auth.Claims) {})),
		"none":           sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(func(*auth.Claims) {})),
		"expired":        sign(jwt.SigningMethodHS256, secret, claims(func(c *auth.Claims) { c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Minute)) })),
		"no expiry":      sign(jwt.SigningMethodHS256, secret, claims(func(c *auth.Claims) { c.ExpiresAt = nil })),
		"wrong audience": sign(jwt.SigningMethodHS256, secret, claims(func(c *auth.Claims) { c.Audience = jwt.ClaimStrings{"runtime"} })),
		"service token":  h.service(),
		"garbage":        "abc.def.ghi",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			r := h.req("GET", "/api/v1/agents", tok, nil)
			if r.Status != 401 {
				t.Fatalf("status %d, want 401", r.Status)
			}
			r.ErrorMsg(t)
		})
	}
	if r := h.req("GET", "/api/v1/agents", "", nil); r.Status != 401 {
		t.Fatalf("no token: %d", r.Status)
	}
}

func TestLoginRateLimits(t *testing.T) {
	m, _ := sharedServers(t)
	cfg := testConfig(t, m, testredis.Start(t)) // a Redis of its own: address counters are global
	cfg.LoginMaxPerAccountAddress, cfg.LoginMaxPerAccount, cfg.LoginMaxPerAddress = 3, 8, 6
	h := start(t, cfg, false)
	owner, _ := h.org("Limit Org")
	addUser(h, owner, "rl@limit.test", "viewer")

	from := func(addr, email, pw string) resp {
		t.Helper()
		return h.reqHeader("POST", "/api/v1/auth/login", map[string]string{"X-Real-IP": addr},
			map[string]string{"email": email, "password": pw})
	}
	for i := 0; i < 3; i++ {
		if r := from("10.0.0.1", "rl@limit.test", "bad-password"); r.Status != 401 {
			t.Fatalf("attempt %d: %d", i, r.Status)
		}
	}
	// The account is locked at the address that failed, even with the right
	// password…
	r2 := from("10.0.0.1", "rl@limit.test", "user-password-1")
	if r2.Status != 429 || r2.Header.Get("Retry-After") == "" {
		t.Fatalf("locked account and address: %d %v", r2.Status, r2.Header)
	}
	r2.ErrorMsg(t)
	// …but not for its owner elsewhere: failures from one address do not
	// lock a user out.
	if r := from("10.0.0.2", "rl@limit.test", "user-password-1"); r.Status != 200 {
		t.Fatalf("owner at another address locked out by failures elsewhere: %d %s", r.Status, r.Body)
	}
	// The per-account limit over all addresses (8) still stops a
	// distributed guesser: 5 more failures from 5 addresses, then even the
	// owner waits.
	for i := 0; i < 5; i++ {
		if r := from(fmt.Sprintf("10.0.1.%d", i), "rl@limit.test", "bad-password"); r.Status != 401 {
			t.Fatalf("distributed attempt %d: %d", i, r.Status)
		}
	}
	if r := from("10.0.0.2", "rl@limit.test", "user-password-1"); r.Status != 429 {
		t.Fatalf("account limit over all addresses: %d %s", r.Status, r.Body)
	}
	// Per address: 6 attempts from 10.0.0.3 on different accounts, then refused.
	for i := 0; i < 6; i++ {
		if r := from("10.0.0.3", "x"+string(rune('a'+i))+"@limit.test", "whatever-pw"); r.Status != 401 {
			t.Fatalf("address attempt %d: %d", i, r.Status)
		}
	}
	if r := from("10.0.0.3", "y@limit.test", "whatever-pw"); r.Status != 429 {
		t.Fatalf("address limit: %d", r.Status)
	}
	if r := from("10.0.0.4", "y@limit.test", "whatever-pw"); r.Status != 401 {
		t.Fatalf("another address limited: %d", r.Status)
	}
}

func TestRoles(t *testing.T) {
	h := newHarness(t)
	owner, _ := h.org("Roles Org")
	tokens := map[string]string{"owner": owner}
	ids := map[string]string{}
	for _, role := range []string{"admin", "operator", "viewer"} {
		tokens[role], ids[role] = addUser(h, owner, role+"@roles.test", role)
	}
	agent := h.must(201, "POST", "/api/v1/agents", owner, agentBody("R"))["id"].(string)
	camp := h.must(201, "POST", "/api/v1/campaigns", owner, campaignBody(agent))["id"].(string)

	type check struct {
		method, path string
		body         any
		least        string // least role allowed
	}
	checks := []check{
		{"GET", "/api/v1/agents", nil, "viewer"},
		{"GET", "/api/v1/calls", nil, "viewer"},
		{"GET", "/api/v1/fleets", nil, "viewer"},
		{"POST", "/api/v1/agents", agentBody("x"), "admin"},
		{"PATCH", "/api/v1/agents/" + agent, map[string]any{"greeting": "hi"}, "admin"},
		{"POST", "/api/v1/phone-numbers", map[string]any{"e164": "+442079460001"}, "admin"},
		{"POST", "/api/v1/fleets", map[string]any{"name": "f", "url": "http://127.0.0.1:1"}, "admin"},
		{"POST", "/api/v1/campaigns", campaignBody(agent), "operator"},
		{"POST", "/api/v1/campaigns/" + camp + "/start", nil, "operator"},
		{"POST", "/api/v1/campaigns/" + camp + "/contacts", "phone\n+14155550100\n", "operator"},
		{"POST", "/api/v1/do-not-call", map[string]any{"phone": "+14155550199"}, "operator"},
		{"GET", "/api/v1/users", nil, "admin"},
		{"GET", "/api/v1/api-keys", nil, "admin"},
	}
	rank := map[string]int{"viewer": 1, "operator": 2, "admin": 3, "owner": 4}
	for _, c := range checks {
		for role, tok := range tokens {
			ct := "application/json"
			if s, ok := c.body.(string); ok && strings.HasPrefix(s, "phone") {
				ct = "text/csv"
			}
			r := h.req(c.method, c.path, tok, c.body, ct)
			allowed := rank[role] >= rank[c.least]
			if allowed && r.Status >= 400 && r.Status != 409 {
				t.Errorf("%s %s as %s: %d %s, want success", c.method, c.path, role, r.Status, r.Body)
			}
			if !allowed && r.Status != 403 {
				t.Errorf("%s %s as %s: %d, want 403", c.method, c.path, role, r.Status)
			}
		}
	}
	// Nobody grants more than they have; only an owner touches an owner.
	admin := tokens["admin"]
	if r := h.req("POST", "/api/v1/users", admin, map[string]any{"email": "o2@roles.test", "role": "owner", "password": "user-password-1"}); r.Status != 403 {
		t.Fatalf("admin created an owner: %d", r.Status)
	}
	if r := h.req("PATCH", "/api/v1/users/"+ids["admin"], admin, map[string]any{"role": "viewer"}); r.Status != 403 {
		t.Fatalf("admin changed own role: %d", r.Status)
	}
	if r := h.req("DELETE", "/api/v1/users/"+ids["admin"], admin, nil); r.Status != 403 {
		t.Fatalf("admin deleted self: %d", r.Status)
	}
	// A role change voids the tokens the user holds.
	h.must(200, "PATCH", "/api/v1/users/"+ids["operator"], owner, map[string]any{"role": "viewer"})
	if r := h.req("GET", "/api/v1/agents", tokens["operator"], nil); r.Status != 401 {
		t.Fatalf("token after role change: %d", r.Status)
	}
	// A deleted user's tokens stop working.
	h.must(204, "DELETE", "/api/v1/users/"+ids["viewer"], owner, nil)
	if r := h.req("GET", "/api/v1/agents", tokens["viewer"], nil); r.Status != 401 {
		t.Fatalf("token of deleted user: %d", r.Status)
	}
}

func TestAPIKeys(t *testing.T) {
	h := newHarness(t)
	owner, orgID := h.org("Key Org")
	k := h.must(201, "POST", "/api/v1/api-keys", owner, map[string]any{"name": "ci", "role": "operator", "expires_in_days": 30})
	key, id := k["key"].(string), k["id"].(string)
	if !strings.HasPrefix(key, "vox_"+id+"_") || k["org_id"] != orgID {
		t.Fatalf("created key = %v", k)
	}
	got := h.must(200, "GET", "/api/v1/api-keys/"+id, owner, nil)
	if _, leaked := got["key"]; leaked {
		t.Fatal("key shown again after creation")
	}
	if _, leaked := got["hash"]; leaked {
		t.Fatal("hash shown")
	}
	h.must(200, "GET", "/api/v1/agents", key, nil)
	// X-API-Key works too.
	r := h.reqHeader("GET", "/api/v1/agents", map[string]string{"X-API-Key": key}, nil)
	if r.Status != 200 {
		t.Fatalf("X-API-Key: %d", r.Status)
	}
	// An operator key cannot do admin things.
	if r := h.req("POST", "/api/v1/agents", key, agentBody("k")); r.Status != 403 {
		t.Fatalf("operator key created an agent: %d", r.Status)
	}
	if r := h.req("POST", "/api/v1/api-keys", owner, map[string]any{"name": "x", "role": "owner"}); r.Status != 400 {
		t.Fatalf("owner key: %d", r.Status)
	}
	// A tampered secret fails; a deleted key fails.
	if r := h.req("GET", "/api/v1/agents", key[:len(key)-2]+"xx", nil); r.Status != 401 {
		t.Fatalf("tampered key: %d", r.Status)
	}
	h.must(204, "DELETE", "/api/v1/api-keys/"+id, owner, nil)
	if r := h.req("GET", "/api/v1/agents", key, nil); r.Status != 401 {
		t.Fatalf("deleted key: %d", r.Status)
	}
}

// TestConcurrentRefresh exchanges one refresh token from many clients at
// once, as browser tabs that share it do: every one gets the same new pair
// (the grace window), instead of the user being logged out everywhere.
// After the window, exchanging it again is reuse: every token of the user
// is voided, the shared new pair included.
func TestConcurrentRefresh(t *testing.T) {
	h := newHarness(t)
	owner, _ := h.org("Race Org")
	addUser(h, owner, "race@auth.test", "viewer")
	refresh := login(h, "race@auth.test", "user-password-1").JSON(t)["refresh_token"].(string)
	var wg sync.WaitGroup
	type answer struct {
		status int
		body   string
	}
	answers := make(chan answer, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := h.req("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": refresh})
			answers <- answer{r.Status, string(r.Body)}
		}()
	}
	wg.Wait()
	close(answers)
	var pairs []string
	for a := range answers {
		if a.status != 200 {
			t.Fatalf("concurrent exchange: %d %s", a.status, a.body)
		}
		pairs = append(pairs, a.body)
	}
	for _, p := range pairs[1:] {
		if p != pairs[0] {
			t.Fatalf("concurrent exchanges got different pairs:\n%s\n%s", pairs[0], p)
		}
	}
	var pair map[string]any
	if err := json.Unmarshal([]byte(pairs[0]), &pair); err != nil {
		t.Fatal(err)
	}
	access := pair["access_token"].(string)
	h.must(200, "GET", "/api/v1/agents", access, nil)
	// The shared new refresh token works, once more for both tabs.
	h.must(200, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": pair["refresh_token"].(string)})

	time.Sleep(h.cfg.RefreshGrace + 100*time.Millisecond)
	if r := h.req("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": refresh}); r.Status != 401 {
		t.Fatalf("reuse after the grace window: %d %s", r.Status, r.Body)
	}
	if r := h.req("GET", "/api/v1/agents", access, nil); r.Status != 401 {
		t.Fatalf("tokens survived reuse after the grace window: %d", r.Status)
	}
}
