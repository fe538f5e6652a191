package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/voxplatform/vox/api/auth"
	"github.com/voxplatform/vox/api/store"
	"github.com/voxplatform/vox/svcauth"
)

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// login checks an e-mail and password and returns a token pair. Attempts
// are limited per account and per client address.
func (s *Server) login(c *fiber.Ctx) error {
	var in loginRequest
	if err := s.decode(c, &in); err != nil {
		return err
	}
	email := store.NormalizeEmail(in.Email)
	if email == "" || len(email) > 320 || in.Password == "" {
		return badRequest("email and password are required")
	}
	ctx := c.UserContext()
	wait, err := s.limiter.Allow(ctx, email, c.IP())
	if err != nil {
		return redisErr("login rate limit", err)
	}
	if wait > 0 {
		return &HTTPError{Status: http.StatusTooManyRequests, Msg: "too many login attempts; try again later", RetryAfter: wait}
	}
	u, err := store.FindOne[store.User](ctx, s.store, store.CollUsers, bson.M{"email": email})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if !auth.CheckPassword(u.PasswordHash, in.Password) {
		if err := s.limiter.Failed(ctx, email); err != nil {
			return redisErr("count failed login", err)
		}
		return httpErr(http.StatusUnauthorized, "wrong e-mail or password")
	}
	if err := s.limiter.Succeeded(ctx, email); err != nil {
		return redisErr("clear failed logins", err)
	}
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
		if ok, err = s.revoker.Rotate(ctx, cl.ID, cl.ExpiresAt.Time); err != nil {
			return redisErr("rotate refresh token", err)
		}
	}
	if !ok {
		// A refresh token used twice was copied: void every token of the
		// user, the thief's and the owner's alike (rotation reuse detection).
		if err := s.revoker.RevokeUser(ctx, cl.Subject); err != nil {
			return redisErr("revoke user tokens", err)
		}
		s.logger.Warn("refresh token reused; all tokens of the user revoked", "user_id", cl.Subject)
		return auth.ErrUnauthorized
	}
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
	return c.JSON(pair)
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
	return c.SendStatus(http.StatusNoContent)
}

// me returns the caller.
func (s *Server) me(c *fiber.Ctx) error {
	p := principal(c)
	out := fiber.Map{"org_id": p.OrgID, "role": p.Role}
	if p.UserID != "" {
		u, err := store.Get[store.User](c.UserContext(), s.store, store.CollUsers, p.OrgID, p.UserID)
		if err != nil {
			return err
		}
		out["user"] = u
	} else {
		out["api_key_id"] = p.APIKeyID
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
	return &auth.Principal{UserID: cl.Subject, OrgID: cl.OrgID, Role: cl.Role, TokenID: cl.ID, Expires: cl.ExpiresAt.Time}, nil
}

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
	if !auth.CheckAPIKey(k.Hash, secret) || (k.ExpiresAt != nil && time.Now().After(*k.ExpiresAt)) {
		return nil, auth.ErrUnauthorized
	}
	return &auth.Principal{APIKeyID: k.ID, OrgID: k.OrgID, Role: k.Role}, nil
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
