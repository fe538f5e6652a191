package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token types.
const (
	TypeAccess  = "access"
	TypeRefresh = "refresh"
)

// Audience of every token voxbridge issues to people.
const Audience = "voxbridge"

// ErrUnauthorized is wrapped by every authentication failure.
var ErrUnauthorized = errors.New("unauthorized")

// Claims are the claims of an access or refresh token.
type Claims struct {
	jwt.RegisteredClaims
	OrgID    string `json:"org"`
	Role     string `json:"role"`
	Type     string `json:"typ"`
	IssuedMs int64  `json:"iat_ms"`
}

// Principal is who makes a request: a user (by token) or an API key.
type Principal struct {
	UserID   string // empty for an API key
	APIKeyID string // empty for a user
	OrgID    string
	Role     string
	TokenID  string    // jti of the access token
	IssuedMs int64     // of the access token, for revocation checks
	Expires  time.Time // of the access token or the API key
	KeyOwner string    // for an API key: the user whose role bounds it
	Scopes   []string  // for an API key: its scopes
}

// HasScope reports whether an API key principal holds scope. A user holds
// every scope: their role alone decides.
func (p *Principal) HasScope(scope string) bool {
	if p.APIKeyID == "" {
		return true
	}
	for _, s := range p.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// Pair is what login and refresh return.
type Pair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

// Issuer signs and verifies people's tokens.
type Issuer struct {
	Secret     []byte
	AccessTTL  time.Duration
	RefreshTTL time.Duration
}

// Issue returns a new access and refresh token for a user.
func (i *Issuer) Issue(userID, orgID, role string) (Pair, error) {
	now := time.Now()
	sign := func(typ string, ttl time.Duration) (string, error) {
		c := Claims{
			RegisteredClaims: jwt.RegisteredClaims{
				ID:        RandomID(),
				Subject:   userID,
				Audience:  jwt.ClaimStrings{Audience},
				Issuer:    Audience,
				IssuedAt:  jwt.NewNumericDate(now),
				ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			},
			OrgID: orgID, Role: role, Type: typ, IssuedMs: now.UnixMilli(),
		}
		return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(i.Secret)
	}
	a, err := sign(TypeAccess, i.AccessTTL)
	if err != nil {
		return Pair{}, fmt.Errorf("sign access token: %w", err)
	}
	r, err := sign(TypeRefresh, i.RefreshTTL)
	if err != nil {
		return Pair{}, fmt.Errorf("sign refresh token: %w", err)
	}
	return Pair{AccessToken: a, RefreshToken: r, TokenType: "Bearer", ExpiresIn: int(i.AccessTTL.Seconds())}, nil
}

// Parse verifies token (HS256 only, audience, expiry) and that it is of type
// typ. Every failure wraps ErrUnauthorized.
func (i *Issuer) Parse(token, typ string) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return i.Secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithAudience(Audience),
		jwt.WithIssuer(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(5*time.Second),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	if c.Type != typ || c.ID == "" || c.Subject == "" || c.OrgID == "" {
		return nil, fmt.Errorf("%w: not a valid %s token", ErrUnauthorized, typ)
	}
	return &c, nil
}

// RandomID returns 128 random bits, base64url.
func RandomID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// APIKeyPrefix starts every API key.
const APIKeyPrefix = "vox_"

// NewAPIKey returns the full key to hand to the user once, and the hash to
// store. id is the key's document id.
func NewAPIKey(id string) (key, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	return APIKeyPrefix + id + "_" + secret, hashSecret(secret)
}

// ParseAPIKey splits a key into its document id and secret.
func ParseAPIKey(key string) (id, secret string, ok bool) {
	rest, found := strings.CutPrefix(key, APIKeyPrefix)
	if !found {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	return id, secret, ok && id != "" && len(secret) >= 32
}

// CheckAPIKey reports whether secret matches the stored hash.
func CheckAPIKey(hash, secret string) bool { return equalHash(hash, hashSecret(secret)) }
