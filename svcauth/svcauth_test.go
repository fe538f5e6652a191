package svcauth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var secret = []byte("0123456789abcdef-test-secret")

func TestVerify(t *testing.T) {
	good, err := Sign(secret, AudienceFleet, "voxdialler", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	otherAud, _ := Sign(secret, AudienceRuntime, "voxdialler", time.Minute)
	otherKey, _ := Sign([]byte("another-secret-of-enough-length"), AudienceFleet, "x", time.Minute)
	expired, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Audience:  jwt.ClaimStrings{AudienceFleet},
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(-time.Minute)),
	}).SignedString(secret)
	noExp, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Audience: jwt.ClaimStrings{AudienceFleet},
	}).SignedString(secret)
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.RegisteredClaims{
		Audience:  jwt.ClaimStrings{AudienceFleet},
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Minute)),
	}).SignedString(secret)
	// alg:none token with otherwise valid claims.
	enc := base64.RawURLEncoding.EncodeToString
	none := enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		enc([]byte(`{"aud":"fleet","exp":`+jwt.NewNumericDate(time.Now().Add(time.Minute)).String()+`}`)) + "."

	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"valid", good, true},
		{"missing", "", false},
		{"garbage", "not.a.jwt", false},
		{"wrong audience", otherAud, false},
		{"wrong key", otherKey, false},
		{"expired", expired, false},
		{"no expiry", noExp, false},
		{"other algorithm", hs512, false},
		{"alg none", none, false},
		{"tampered", good[:len(good)-2] + "xx", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub, err := Verify(secret, AudienceFleet, tt.token)
			if tt.ok {
				if err != nil || sub != "voxdialler" {
					t.Fatalf("Verify = %q, %v; want voxdialler, nil", sub, err)
				}
				return
			}
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("Verify err = %v; want ErrUnauthorized", err)
			}
		})
	}
}

func TestFromHeader(t *testing.T) {
	for in, want := range map[string]string{
		"Bearer abc":  "abc",
		"bearer  abc": "abc",
		"Basic abc":   "",
		"Bearer":      "",
		"":            "",
	} {
		if got := FromHeader(in); got != want {
			t.Errorf("FromHeader(%q) = %q; want %q", in, got, want)
		}
	}
	if err := ValidateSecret(strings.Repeat("a", MinSecretLen-1)); err == nil {
		t.Error("short secret accepted")
	}
}

func TestFleetAudience(t *testing.T) {
	tok, err := Sign(secret, FleetAudience("fleet-a"), "voxdialler", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(secret, FleetAudience("fleet-a"), tok); err != nil {
		t.Fatalf("own fleet: %v", err)
	}
	for _, aud := range []string{FleetAudience("fleet-b"), AudienceFleet, AudienceRuntime} {
		if _, err := Verify(secret, aud, tok); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("a token for fleet-a verified for audience %q: %v", aud, err)
		}
	}
	unscoped, _ := Sign(secret, AudienceFleet, "old", time.Minute)
	if _, err := Verify(secret, FleetAudience("fleet-a"), unscoped); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("an unscoped fleet token verified for fleet-a: %v", err)
	}
	for id, ok := range map[string]bool{"fleet-a": true, "65f0c0ffee0123456789abcd": true, "eu_1.b": true,
		"": false, "-a": false, "a b": false, "a:b": false, strings.Repeat("a", 65): false} {
		if err := ValidateFleetID(id); (err == nil) != ok {
			t.Errorf("ValidateFleetID(%q) = %v, want ok=%v", id, err, ok)
		}
	}
}
