package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// Password length limits, in bytes (bcrypt reads at most 72).
const (
	MinPasswordLen = 10
	MaxPasswordLen = 72
)

// ErrWeakPassword is returned by ValidatePassword.
var ErrWeakPassword = errors.New("password must be valid UTF-8 of 10 to 72 bytes")

// ValidatePassword checks a new password.
func ValidatePassword(pw string) error {
	if len(pw) < MinPasswordLen || len(pw) > MaxPasswordLen || !utf8.ValidString(pw) {
		return ErrWeakPassword
	}
	return nil
}

// HashPassword hashes pw with bcrypt at cost.
func HashPassword(pw string, cost int) (string, error) {
	if err := ValidatePassword(pw); err != nil {
		return "", err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// Verifier checks passwords. For an unknown account it compares against a
// dummy hash of the configured cost, so that a login for an unknown e-mail
// costs as much as one for a known e-mail with a wrong password.
type Verifier struct {
	dummy []byte
}

// NewVerifier returns a Verifier whose dummy hash has bcrypt cost, the cost
// new passwords are hashed with.
func NewVerifier(cost int) (*Verifier, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(RandomID()), cost)
	if err != nil {
		return nil, fmt.Errorf("dummy password hash at cost %d: %w", cost, err)
	}
	return &Verifier{dummy: h}, nil
}

// DummyCost is the bcrypt cost of the dummy hash.
func (v *Verifier) DummyCost() int {
	c, _ := bcrypt.Cost(v.dummy)
	return c
}

// Check reports whether pw matches hash. An empty hash (unknown account)
// still spends the time of a comparison at the configured cost and returns
// false.
func (v *Verifier) Check(hash, pw string) bool {
	if hash == "" || len(pw) > MaxPasswordLen {
		_ = bcrypt.CompareHashAndPassword(v.dummy, []byte(pw))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

// hashSecret is the stored form of an API key secret: random secrets of 256
// bits need no slow hash.
func hashSecret(secret string) string {
	s := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(s[:])
}

// equalHash compares two hex hashes in constant time.
func equalHash(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
