package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/voxplatform/vox/api/auth"
	"github.com/voxplatform/vox/store"
	"github.com/voxplatform/vox/svcauth"
)

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	// OrgID picks the organisation when the e-mail has an account in
	// several and the password opens more than one of them.
	OrgID string `json:"org_id,omitempty"`
}

// maxAccountsPerEmail bounds the accounts one e-mail is checked against at
// login (an e-mail may have an account in several organisations).
const maxAccountsPerEmail = 20

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// login checks an e-mail and password and returns a token pair. Failed
// attempts are limited per (account, client address), per account and per
// address. An unknown e-mail costs one bcrypt comparison at the configured
// cost, as a known one does.
func (s *Server) login(c *fiber.Ctx) error {
	var in loginRequest
	if err := s.decode(c, &in); err != nil {
		return err
	}
	email := store.NormalizeEmail(in.Email)
	if email == "" || len(email) > 320 || in.Password == "" {
		return badRequest("email and password are required")
	}
	if in.OrgID != "" && !store.ValidID(in.OrgID) {
		return badRequest("org_id: not an id")
	}
	ctx := c.UserContext()
	addr := c.IP()
	wait, err := s.limiter.Allow(ctx, email, addr)
	if err != nil {
		return redisErr("login rate limit", err)
	}
	if wait > 0 {
		return &HTTPError{Status: http.StatusTooManyRequests, Msg: "too many login attempts; try again later", RetryAfter: wait}
	}
	f := bson.M{"email": email}
	if in.OrgID != "" {
		f["org_id"] = in.OrgID
	}
	page, err := store.List[store.User](ctx, s.store, store.CollUsers, f, store.PageQuery{Limit: maxAccountsPerEmail})
	if err != nil {
		return err
	}
	var match []store.User
	for _, u := range page.Items {
		if s.passwds.Check(u.PasswordHash, in.Password) {
			match = append(match, u)
		}
	}
	if len(page.Items) == 0 {
		s.passwds.Check("", in.Password)
	}
	if len(match) == 0 {
		if err := s.limiter.Failed(ctx, email, addr); err != nil {
			return redisErr("count failed login", err)
		}
		return httpErr(http.StatusUnauthorized, "wrong e-mail or password")
	}
	if err := s.limiter.Succeeded(ctx, email, addr); err != nil {
		return redisErr("clear failed logins", err)
	}
	if len(match) > 1 {
		return httpErr(http.StatusConflict, "this e-mail and password open accounts in several organisations; name one with org_id")
	}
	u := match[0]
	pair, err := s.issuer.Issue(u.ID, u.OrgID, u.Role)
	if err != nil {
		return err
	}
	s.logger.Info("login", "user_id", u.ID, "org_id", u.OrgID)
	return c.JSON(pair)
}

// refresh exchanges a refresh token for a new pair; the old refresh token
// is revoked (rotation), so each can be used once.
func (s *Server) refresh(c *fiber.Ctx) error {
	var in refreshRequest
	if err := s.decode(c, &in); err != nil {
		return err
	}
	cl, err := s.issuer.Parse(in.RefreshToken, auth.TypeRefresh)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	ok, why, err := s.revoker.Valid(ctx, cl.ID, cl.Subject, cl.IssuedMs)
	if err != nil {
		return redisErr("check refresh token", err)
	}
	if !ok && why != auth.ReasonRotated {
		return auth.ErrUnauthorized
	}
	if ok {
		// Claim the token: of two concurrent exchanges only one wins.
		if ok, err = s.revoker.RotateWithGrace(ctx, cl.ID, cl.ExpiresAt.Time, s.cfg.RefreshGrace); err != nil {
			return redisErr("rotate refresh token", err)
		}
		if ok {
			return s.exchange(c, cl)
		}
	}
	// Exchanged already. Within the grace window (another tab of the same
	// browser refreshing at the same moment) the same new pair is returned.
	b, found, err := s.revoker.Successor(ctx, cl.ID, 2*time.Second)
	if err != nil {
		return redisErr("read refresh successor", err)
	}
	if found {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(b)
	}
	// A refresh token used again after its grace was copied: void every
	// token of the user, the thief's and the owner's alike (rotation reuse
	// detection).
	if err := s.revoker.RevokeUser(ctx, cl.Subject); err != nil {
		return redisErr("revoke user tokens", err)
	}
	s.credentialsChanged(ctx, cl.OrgID)
	s.logger.Warn("refresh token reused; all tokens of the user revoked", "user_id", cl.Subject)
	return auth.ErrUnauthorized
}

// exchange issues the pair that replaces the claimed refresh token cl and
// records it for cl's grace window.
func (s *Server) exchange(c *fiber.Ctx, cl *auth.Claims) error {
	ctx := c.UserContext()
	// Role and organisation come from the stored user, not the old token.
	u, err := store.Get[store.User](ctx, s.store, store.CollUsers, cl.OrgID, cl.Subject)
	if errors.Is(err, store.ErrNotFound) {
		return auth.ErrUnauthorized
	} else if err != nil {
		return err
	}
	pair, err := s.issuer.Issue(u.ID, u.OrgID, u.Role)
	if err != nil {
		return err
	}
	b, err := json.Marshal(pair)
	if err != nil {
		return fmt.Errorf("encode token pair: %w", err)
	}
	if s.cfg.RefreshGrace > 0 {
		if err := s.revoker.SetSuccessor(ctx, cl.ID, b); err != nil {
			return redisErr("record refresh successor", err)
		}
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(b)
}

// logout revokes the access token of the request and, when given, the
// refresh token of the same user.
func (s *Server) logout(c *fiber.Ctx) error {
	p := principal(c)
	if p.UserID == "" {
		return badRequest("API keys do not log out; delete the key instead")
	}
	var in refreshRequest
	if len(c.Body()) > 0 {
		if err := s.decode(c, &in); err != nil {
			return err
		}
	}
	ctx := c.UserContext()
	if in.RefreshToken != "" {
		cl, err := s.issuer.Parse(in.RefreshToken, auth.TypeRefresh)
		if err != nil || cl.Subject != p.UserID {
			return badRequest("refresh_token: not a refresh token of this user")
		}
		if err := s.revoker.Revoke(ctx, cl.ID, cl.ExpiresAt.Time, auth.ReasonLogout); err != nil {
			return redisErr("revoke refresh token", err)
		}
	}
	if err := s.revoker.Revoke(ctx, p.TokenID, p.Expires, auth.ReasonLogout); err != nil {
		return redisErr("revoke access token", err)
	}
	s.credentialsChanged(ctx, p.OrgID)
	return c.SendStatus(http.StatusNoContent)
}

// meBody is who the caller is: a user or an API key, with the role that
// applies now.
type meBody struct {
	OrgID    string      `json:"org_id"`
	Role     string      `json:"role"`
	User     *store.User `json:"user,omitempty"`
	APIKeyID string      `json:"api_key_id,omitempty"`
}

// me returns the caller.
func (s *Server) me(c *fiber.Ctx) error {
	p := principal(c)
	out := meBody{OrgID: p.OrgID, Role: p.Role}
	if p.UserID != "" {
		u, err := store.Get[store.User](c.UserContext(), s.store, store.CollUsers, p.OrgID, p.UserID)
		if err != nil {
			return err
		}
		out.User = &u
	} else {
		out.APIKeyID = p.APIKeyID
	}
	return c.JSON(out)
}

// authenticate accepts a person's access token or an API key
// ("Authorization: Bearer vox_…" or "X-API-Key: vox_…").
func (s *Server) authenticate(c *fiber.Ctx) error {
	tok := svcauth.FromHeader(c.Get(fiber.HeaderAuthorization))
	if k := c.Get("X-API-Key"); k != "" && tok == "" {
		tok = k
	}
	if tok == "" {
		return httpErr(http.StatusUnauthorized, "unauthorized: missing bearer token or API key")
	}
	ctx := c.UserContext()
	var p *auth.Principal
	var err error
	if strings.HasPrefix(tok, auth.APIKeyPrefix) {
		p, err = s.apiKeyPrincipal(ctx, tok)
	} else {
		p, err = s.tokenPrincipal(ctx, tok)
	}
	if err != nil {
		return err
	}
	c.Locals(localPrincipal, p)
	return c.Next()
}

func (s *Server) tokenPrincipal(ctx context.Context, tok string) (*auth.Principal, error) {
	cl, err := s.issuer.Parse(tok, auth.TypeAccess)
	if err != nil {
		return nil, err
	}
	ok, _, err := s.revoker.Valid(ctx, cl.ID, cl.Subject, cl.IssuedMs)
	if err != nil {
		return nil, redisErr("check access token", err)
	}
	if !ok {
		return nil, auth.ErrUnauthorized
	}
	return &auth.Principal{UserID: cl.Subject, OrgID: cl.OrgID, Role: cl.Role, TokenID: cl.ID,
		IssuedMs: cl.IssuedMs, Expires: cl.ExpiresAt.Time}, nil
}

// keyUseResolution is how stale last_used_at may get: a key used all the
// time costs one write a minute, not one per request.
const keyUseResolution = time.Minute

// apiKeyPrincipal resolves an API key on every request, so that deleting
// it, or changing or deleting its owner, takes effect at once: the key acts
// with the lower of its own role and its owner's current role, and a key
// whose owner is gone is refused.
func (s *Server) apiKeyPrincipal(ctx context.Context, tok string) (*auth.Principal, error) {
	id, secret, ok := auth.ParseAPIKey(tok)
	if !ok || !store.ValidID(id) {
		return nil, auth.ErrUnauthorized
	}
	k, err := store.FindOne[store.APIKey](ctx, s.store, store.CollAPIKeys, bson.M{"_id": id})
	if errors.Is(err, store.ErrNotFound) {
		return nil, auth.ErrUnauthorized
	} else if err != nil {
		return nil, err
	}
	if !auth.CheckAPIKey(k.Hash, secret) {
		return nil, auth.ErrUnauthorized
	}
	return s.keyPrincipal(ctx, k)
}

// keyPrincipal is who a stored key acts as now: refused when expired or
// when its owner is gone, else the lower of its role and its owner's.
func (s *Server) keyPrincipal(ctx context.Context, k store.APIKey) (*auth.Principal, error) {
	now := time.Now()
	expires := s.keyExpiry(&k)
	if now.After(expires) {
		return nil, auth.ErrUnauthorized
	}
	owner, err := store.Get[store.User](ctx, s.store, store.CollUsers, k.OrgID, k.Owner())
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: API key %s: its owner no longer exists", auth.ErrUnauthorized, k.ID)
	} else if err != nil {
		return nil, err
	}
	role := k.Role
	if store.RoleRank(owner.Role) < store.RoleRank(role) {
		role = owner.Role
	}
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) > keyUseResolution {
		_, err := s.store.C(store.CollAPIKeys).UpdateOne(ctx, bson.M{"_id": k.ID},
			bson.M{"$set": bson.M{"last_used_at": now.UTC().Truncate(time.Millisecond)}})
		if err != nil {
			s.logger.Warn("record API key use", "api_key_id", k.ID, "err", err)
		}
	}
	return &auth.Principal{APIKeyID: k.ID, OrgID: k.OrgID, Role: role, Expires: expires,
		KeyOwner: owner.ID, Scopes: k.Scopes}, nil
}

// keyExpiry is when k expires; a key made before expiries were required
// expires API_KEY_TTL after its creation.
func (s *Server) keyExpiry(k *store.APIKey) time.Time {
	if k.ExpiresAt != nil {
		return *k.ExpiresAt
	}
	return k.CreatedAt.Add(s.cfg.APIKeyTTL)
}

// stillValid checks again the credentials a request was authenticated
// with (for event streams, which outlive their request): nil while they
// hold, an error wrapping auth.ErrUnauthorized once they are revoked,
// expired or narrowed below viewer, another error when it cannot tell.
func (s *Server) stillValid(ctx context.Context, p *auth.Principal) error {
	if time.Now().After(p.Expires) {
		return fmt.Errorf("%w: expired", auth.ErrUnauthorized)
	}
	if p.APIKeyID == "" {
		ok, why, err := s.revoker.Valid(ctx, p.TokenID, p.UserID, p.IssuedMs)
		if err != nil {
			return redisErr("check access token", err)
		}
		if !ok {
			return fmt.Errorf("%w: token %s", auth.ErrUnauthorized, why)
		}
		return nil
	}
	k, err := store.FindOne[store.APIKey](ctx, s.store, store.CollAPIKeys, bson.M{"_id": p.APIKeyID})
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: API key deleted", auth.ErrUnauthorized)
	} else if err != nil {
		return err
	}
	_, err = s.keyPrincipal(ctx, k)
	return err
}

// authenticateService accepts a service token of audience runtime.
func (s *Server) authenticateService(c *fiber.Ctx) error {
	sub, err := svcauth.Verify(s.cfg.ServiceSecret, svcauth.AudienceRuntime, svcauth.FromHeader(c.Get(fiber.HeaderAuthorization)))
	if err != nil {
		return err
	}
	c.Locals("service", sub)
	return c.Next()
}
