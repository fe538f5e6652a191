package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"

	"github.com/voxplatform/vox/internal/testredis"
)

func TestTokens(t *testing.T) {
	i := &Issuer{Secret: []byte(strings.Repeat("k", 32)), AccessTTL: time.Minute, RefreshTTL: time.Hour}
	p, err := i.Issue("u1", "o1", "admin")
	if err != nil {
		t.Fatal(err)
	}
	c, err := i.Parse(p.AccessToken, TypeAccess)
	if err != nil || c.Subject != "u1" || c.OrgID != "o1" || c.Role != "admin" {
		t.Fatalf("parse access: %+v %v", c, err)
	}
	other := &Issuer{Secret: []byte(strings.Repeat("x", 32)), AccessTTL: time.Minute, RefreshTTL: time.Hour}
	op, _ := other.Issue("u1", "o1", "owner")
	expired, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{
		RegisteredClaims: jwt.RegisteredClaims{ID: "j", Subject: "u1", Audience: jwt.ClaimStrings{Audience},
			Issuer: Audience, ExpiresAt: jwt.NewNumericDate(time.Now().Add(-time.Minute))},
		OrgID: "o1", Role: "owner", Type: TypeAccess,
	}).SignedString(i.Secret)
	hs384, _ := jwt.NewWithClaims(jwt.SigningMethodHS384, Claims{
		RegisteredClaims: jwt.RegisteredClaims{ID: "j", Subject: "u1", Audience: jwt.ClaimStrings{Audience},
			Issuer: Audience, ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Minute))},
		OrgID: "o1", Role: "owner", Type: TypeAccess,
	}).SignedString(i.Secret)
	wrongAud, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{
		RegisteredClaims: jwt.RegisteredClaims{ID: "j", Subject: "u1", Audience: jwt.ClaimStrings{"runtime"},
			Issuer: Audience, ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Minute))},
		OrgID: "o1", Role: "owner", Type: TypeAccess,
	}).SignedString(i.Secret)
	for name, tok := range map[string]string{
		"refresh as access": p.RefreshToken, "other key": op.AccessToken, "expired": expired,
		"HS384": hs384, "wrong audience": wrongAud, "garbage": "a.b.c", "empty": "",
	} {
		if _, err := i.Parse(tok, TypeAccess); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestAPIKey(t *testing.T) {
	key, hash := NewAPIKey("abc123")
	id, secret, ok := ParseAPIKey(key)
	if !ok || id != "abc123" || !CheckAPIKey(hash, secret) || CheckAPIKey(hash, secret+"x") {
		t.Fatalf("round trip failed: %q", key)
	}
	for _, bad := range []string{"", "vox_", "vox_id_short", "xyz_abc_" + strings.Repeat("a", 40)} {
		if _, _, ok := ParseAPIKey(bad); ok {
			t.Errorf("ParseAPIKey(%q) ok", bad)
		}
	}
}

func TestPassword(t *testing.T) {
	h, err := HashPassword("correct horse battery", 4)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(6)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Check(h, "correct horse battery") || v.Check(h, "wrong") || v.Check("", "x") {
		t.Fatal("Check")
	}
	// An unknown account costs what a known one does: the dummy hash has the
	// configured cost, not bcrypt's minimum.
	if v.DummyCost() != 6 {
		t.Fatalf("dummy hash cost %d, want 6", v.DummyCost())
	}
	if _, err := HashPassword("short", 4); !errors.Is(err, ErrWeakPassword) {
		t.Fatal("short password accepted")
	}
}

func TestRedisParts(t *testing.T) {
	opt, _ := redis.ParseURL(testredis.Start(t))
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx := context.Background()

	r := &Revoker{RDB: rdb, TTL: time.Hour}
	now := time.Now().UnixMilli()
	if ok, _, err := r.Valid(ctx, "j1", "u1", now); !ok || err != nil {
		t.Fatalf("fresh token invalid: %v", err)
	}
	_ = r.Revoke(ctx, "j1", time.Now().Add(time.Minute), ReasonRotated)
	if ok, why, _ := r.Valid(ctx, "j1", "u1", now); ok || why != ReasonRotated {
		t.Fatalf("revoked token: %v %q", ok, why)
	}
	time.Sleep(2 * time.Millisecond)
	_ = r.RevokeUser(ctx, "u1")
	if ok, why, _ := r.Valid(ctx, "j2", "u1", now); ok || why != ReasonCutOff {
		t.Fatalf("token issued before cut-off: %v %q", ok, why)
	}
	if ok, _, _ := r.Valid(ctx, "j3", "u1", time.Now().Add(time.Second).UnixMilli()); !ok {
		t.Fatal("token issued after cut-off invalid")
	}

	l := &Limiter{RDB: rdb, MaxPair: 2, MaxAccount: 4, MaxAddress: 5, Window: time.Minute}
	for i := 0; i < 2; i++ {
		if w, err := l.Allow(ctx, "a@x", "1.1.1.1"); w != 0 || err != nil {
			t.Fatalf("attempt %d limited", i)
		}
		_ = l.Failed(ctx, "a@x", "1.1.1.1")
	}
	if w, _ := l.Allow(ctx, "a@x", "1.1.1.1"); w == 0 {
		t.Fatal("account and address limit not applied")
	}
	if w, _ := l.Allow(ctx, "a@x", "1.1.1.2"); w != 0 {
		t.Fatal("failures from one address locked the account at another")
	}
	_ = l.Failed(ctx, "a@x", "1.1.1.3")
	_ = l.Failed(ctx, "a@x", "1.1.1.4")
	if w, _ := l.Allow(ctx, "a@x", "1.1.1.5"); w == 0 {
		t.Fatal("global account limit not applied")
	}
	if w, _ := l.Allow(ctx, "b@x", "1.1.1.6"); w != 0 {
		t.Fatal("another account limited")
	}
	for i := 0; i < 5; i++ {
		_, _ = l.Allow(ctx, "c@x", "1.1.1.7")
	}
	if w, _ := l.Allow(ctx, "d@x", "1.1.1.7"); w == 0 {
		t.Fatal("address limit not applied")
	}
}
