package svcauth

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Audiences used between services.
const (
	AudienceFleet   = "fleet"
	AudienceRuntime = "runtime"
)

// FleetAudience is the audience of a token for the worker routes of one
// fleet host: "fleet:" and the fleet's identity (its id in the Backend's
// registry, VOXFLEET_FLEET_ID on the host). A worker accepts only its own
// fleet's audience, so a token captured by one fleet host cannot drive
// another.
func FleetAudience(fleetID string) string { return AudienceFleet + ":" + fleetID }

var fleetIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ValidateFleetID reports whether id is fit to name a fleet in a token
// audience: 1 to 64 letters, digits and _.- starting with a letter or digit.
func ValidateFleetID(id string) error {
	if !fleetIDRE.MatchString(id) {
		return fmt.Errorf("must be 1 to 64 letters, digits and _.- (the fleet's id in the Backend), got %q", id)
	}
	return nil
}

// MinSecretLen is the shortest VOX_SERVICE_SECRET accepted, in bytes.
const MinSecretLen = 16

// DefaultTTL is the lifetime of a token minted by Sign when none is given.
const DefaultTTL = 2 * time.Minute

// ErrUnauthorized is wrapped by every verification failure, so callers can map
// any of them to HTTP 401 with errors.Is.
var ErrUnauthorized = errors.New("unauthorized")

// ValidateSecret reports whether secret is fit to sign service tokens.
func ValidateSecret(secret string) error {
	if len(secret) < MinSecretLen {
		return fmt.Errorf("must be at least %d bytes, got %d", MinSecretLen, len(secret))
	}
	return nil
}

// Sign mints a token for audience, issued by subject (the calling service's
// name), valid for ttl (DefaultTTL when ttl <= 0).
func Sign(secret []byte, audience, subject string, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	now := time.Now()
	claims := jwt.RegisteredClaims{
		Subject:   subject,
		Audience:  jwt.ClaimStrings{audience},
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now.Add(-5 * time.Second)),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("sign service token: %w", err)
	}
	return s, nil
}

// Verify checks token against secret and audience and returns its subject.
// Every failure wraps ErrUnauthorized.
func Verify(secret []byte, audience, token string) (string, error) {
	if token == "" {
		return "", fmt.Errorf("%w: missing token", ErrUnauthorized)
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(5*time.Second),
	)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	return claims.Subject, nil
}

// FromHeader extracts the token from an "Authorization: Bearer …" header
// value; it returns "" when the header holds no bearer token.
func FromHeader(v string) string {
	const p = "bearer "
	if len(v) > len(p) && strings.EqualFold(v[:len(p)], p) {
		return strings.TrimSpace(v[len(p):])
	}
	return ""
}
