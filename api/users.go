package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/voxplatform/vox/api/auth"
	"github.com/voxplatform/vox/store"
)

type userInput struct {
	Email    *string `json:"email"`
	Name     *string `json:"name"`
	Role     *string `json:"role"`
	Password *string `json:"password"`
}

type apiKeyInput struct {
	Name          *string   `json:"name"`
	Role          *string   `json:"role"`
	Scopes        *[]string `json:"scopes"`
	ExpiresInDays *int      `json:"expires_in_days"`
}

// apiKeyCreated is returned once, when a key is made: the key itself is
// never shown again.
type apiKeyCreated struct {
	store.APIKey
	Key string `json:"key"`
}

const localNewKey = "new_api_key"

func (s *Server) peopleRoutes() {
	registerCRUD(s, crud[store.User, *store.User, userInput]{
		path: "/users", coll: store.CollUsers, tag: "users",
		readRole: store.RoleAdmin, writeRole: store.RoleAdmin,
		filters: []filter{oneOfFilter("role", "role", store.RoleOwner, store.RoleAdmin, store.RoleOperator, store.RoleViewer),
			{Param: "email", Field: "email", Check: func(c *fiber.Ctx, v string) (any, error) {
				t, err := queryText(c, "email")
				return store.NormalizeEmail(t), err
			}}},
		defaults: func(u *store.User) { u.Role = store.RoleViewer },
		apply:    s.applyUser,
		beforeDelete: func(_ *fiber.Ctx, p *auth.Principal, u *store.User) error {
			if err := needScope(p, store.ScopeUsersWrite); err != nil {
				return err
			}
			if u.ID == p.UserID || u.ID == p.KeyOwner {
				return errForbidden.withErr(errors.New("a user may not delete themselves"))
			}
			if u.Role == store.RoleOwner && p.Role != store.RoleOwner {
				return errForbidden.withErr(errors.New("only an owner may delete an owner"))
			}
			return nil
		},
		changed: func(ctx context.Context, old, cur *store.User) {
			if cur == nil {
				if err := s.revoker.RevokeUser(ctx, old.ID); err != nil {
					s.logger.Error("revoke tokens of deleted user", "user_id", old.ID, "err", err)
				}
			}
			if old != nil && (cur == nil || cur.Role != old.Role || cur.PasswordHash != old.PasswordHash) {
				s.credentialsChanged(ctx, old.OrgID)
			}
		},
	})
	registerCRUD(s, crud[store.APIKey, *store.APIKey, apiKeyInput]{
		path: "/api-keys", coll: store.CollAPIKeys, tag: "api-keys",
		readRole: store.RoleAdmin, writeRole: store.RoleAdmin,
		filters:  []filter{oneOfFilter("role", "role", store.RoleAdmin, store.RoleOperator, store.RoleViewer)},
		defaults: func(k *store.APIKey) { k.Role, k.Scopes = store.RoleViewer, []string{} },
		apply:    s.applyAPIKey,
		beforeDelete: func(_ *fiber.Ctx, p *auth.Principal, _ *store.APIKey) error {
			return needScope(p, store.ScopeAPIKeysWrite)
		},
		changed: func(ctx context.Context, old, _ *store.APIKey) {
			if old != nil {
				s.credentialsChanged(ctx, old.OrgID)
			}
		},
		createdView: func(c *fiber.Ctx, k *store.APIKey) any {
			key, _ := c.Locals(localNewKey).(string)
			return apiKeyCreated{APIKey: *k, Key: key}
		},
		createdOut: apiKeyCreated{},
	})
}

// needScope refuses an API key without scope (a person's token holds every
// scope; their role decides).
func needScope(p *auth.Principal, scope string) error {
	if !p.HasScope(scope) {
		return httpErr(http.StatusForbidden, "forbidden: an API key needs the scope %s for this", scope)
	}
	return nil
}

// applyAPIKey copies an API key input: no role above the caller's, no scope
// the caller lacks, an expiry of at most API_KEY_MAX_TTL (API_KEY_TTL when
// none is asked for). A key is owned by the user who made it, or by the
// owner of the key that made it.
func (s *Server) applyAPIKey(c *fiber.Ctx, p *auth.Principal, in *apiKeyInput, k *store.APIKey) error {
	if err := needScope(p, store.ScopeAPIKeysWrite); err != nil {
		return err
	}
	set(&k.Name, in.Name)
	set(&k.Role, in.Role)
	if store.RoleRank(k.Role) > store.RoleRank(p.Role) {
		return errForbidden.withErr(errors.New("API key above the caller's role"))
	}
	if in.Scopes != nil {
		k.Scopes = slices.Compact(slices.Sorted(slices.Values(*in.Scopes)))
		for _, sc := range k.Scopes {
			if !p.HasScope(sc) {
				return httpErr(http.StatusForbidden, "forbidden: scope %s is not the caller's to give", sc)
			}
		}
	}
	maxDays := int(s.cfg.APIKeyMaxTTL / (24 * time.Hour))
	switch {
	case in.ExpiresInDays != nil:
		if *in.ExpiresInDays < 1 || *in.ExpiresInDays > maxDays {
			return badRequest("expires_in_days: must be 1 to %d", maxDays)
		}
		t := time.Now().UTC().Add(time.Duration(*in.ExpiresInDays) * 24 * time.Hour).Truncate(time.Millisecond)
		k.ExpiresAt = &t
	case k.Hash == "": // a new key
		t := time.Now().UTC().Add(s.cfg.APIKeyTTL).Truncate(time.Millisecond)
		k.ExpiresAt = &t
	case k.ExpiresAt == nil: // made before expiries were required
		t := s.keyExpiry(k).UTC()
		k.ExpiresAt = &t
	}
	if k.Hash == "" { // a new key
		key, hash := auth.NewAPIKey(k.ID)
		k.Hash, k.CreatedBy = hash, p.UserID+p.APIKeyID
		k.OwnerID = p.UserID
		if p.APIKeyID != "" {
			k.OwnerID = p.KeyOwner
		}
		c.Locals(localNewKey, key)
	}
	return nil
}

// applyUser copies a user input and enforces who may grant what: nobody
// grants a role above their own, only an owner changes an owner, and nobody
// changes their own role.
func (s *Server) applyUser(c *fiber.Ctx, p *auth.Principal, in *userInput, u *store.User) error {
	if err := needScope(p, store.ScopeUsersWrite); err != nil {
		return err
	}
	isNew := u.PasswordHash == ""
	if !isNew && u.Role == store.RoleOwner && p.Role != store.RoleOwner {
		return errForbidden.withErr(errors.New("only an owner may change an owner"))
	}
	if in.Email != nil {
		e := store.NormalizeEmail(*in.Email)
		if !isNew && e != u.Email {
			return badRequest("email: cannot be changed; create a new user")
		}
		u.Email = e
	}
	set(&u.Name, in.Name)
	if in.Role != nil && *in.Role != u.Role {
		if !isNew && (u.ID == p.UserID || u.ID == p.KeyOwner) {
			return errForbidden.withErr(errors.New("a user may not change their own role"))
		}
		if store.RoleRank(*in.Role) > store.RoleRank(p.Role) {
			return errForbidden.withErr(errors.New("role above the caller's"))
		}
		u.Role = *in.Role
	}
	if in.Password != nil {
		h, err := auth.HashPassword(*in.Password, s.cfg.BcryptCost)
		if errors.Is(err, auth.ErrWeakPassword) {
			return badRequest("password: %v", err)
		} else if err != nil {
			return err
		}
		u.PasswordHash = h
	}
	if isNew && u.PasswordHash == "" {
		return badRequest("password: required")
	}
	if !isNew && (in.Role != nil || in.Password != nil) {
		// Role or password changed: every token issued so far is void.
		if err := s.revoker.RevokeUser(c.UserContext(), u.ID); err != nil {
			return redisErr("revoke user tokens", err)
		}
	}
	return nil
}
