package auth

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Revoker keeps revoked token ids, and per-user cut-off times before which
// every token of the user is void, in Redis.
type Revoker struct {
	RDB *redis.Client
	TTL time.Duration // at least the refresh token lifetime
}

func revokedKey(jti string) string   { return "vox:auth:revoked:" + jti }
func cutoffKey(userID string) string { return "vox:auth:cutoff:" + userID }

// Reasons a token is revoked, as Valid reports them.
const (
	ReasonLogout  = "logout"
	ReasonRotated = "rotated" // a refresh token exchanged for a new pair
	ReasonCutOff  = "cut-off" // every token of the user was voided
)

// Revoke voids the token jti, for reason, until it would have expired
// anyway.
func (r *Revoker) Revoke(ctx context.Context, jti string, expires time.Time, reason string) error {
	ttl := time.Until(expires) + 10*time.Second
	if ttl <= 0 {
		return nil
	}
	if err := r.RDB.Set(ctx, revokedKey(jti), reason, ttl).Err(); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	return nil
}

// Rotate revokes the refresh token jti as exchanged, atomically: it
// reports false when the token had already been revoked, so that of two
// concurrent exchanges of one token only one succeeds.
func (r *Revoker) Rotate(ctx context.Context, jti string, expires time.Time) (bool, error) {
	ttl := max(time.Until(expires)+10*time.Second, time.Second)
	ok, err := r.RDB.SetNX(ctx, revokedKey(jti), ReasonRotated, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("rotate refresh token: %w", err)
	}
	return ok, nil
}

func successorKey(jti string) string { return "vox:auth:next:" + jti }

// rotateScript claims a refresh token (KEYS[1], the revoked key) and, when
// a grace window is asked for (ARGV[2] > 0 ms), marks its successor pending
// (KEYS[2]) in the same step, so that a concurrent exchange never sees the
// token claimed without its pending successor.
var rotateScript = redis.NewScript(`
if not redis.call('SET', KEYS[1], ARGV[3], 'NX', 'PX', ARGV[1]) then return 0 end
if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[2], '', 'PX', ARGV[2]) end
return 1`)

// RotateWithGrace is Rotate that also opens a grace window: for grace
// after the exchange, Successor returns the pair given to SetSuccessor,
// so that a second exchange of the same token (two browser tabs
// refreshing at once) gets the same new pair rather than looking like a
// stolen token.
func (r *Revoker) RotateWithGrace(ctx context.Context, jti string, expires time.Time, grace time.Duration) (bool, error) {
	ttl := max(time.Until(expires)+10*time.Second, time.Second)
	n, err := rotateScript.Run(ctx, r.RDB, []string{revokedKey(jti), successorKey(jti)},
		ttl.Milliseconds(), grace.Milliseconds(), ReasonRotated).Int()
	if err != nil {
		return false, fmt.Errorf("rotate refresh token: %w", err)
	}
	return n == 1, nil
}

// SetSuccessor records the pair that replaced the refresh token jti, for
// what is left of its grace window.
func (r *Revoker) SetSuccessor(ctx context.Context, jti string, pair []byte) error {
	if err := r.RDB.SetArgs(ctx, successorKey(jti), pair, redis.SetArgs{Mode: "XX", KeepTTL: true}).Err(); err != nil && err != redis.Nil {
		return fmt.Errorf("record refresh successor: %w", err)
	}
	return nil
}

// Successor returns the pair that replaced the refresh token jti while its
// grace window lasts, waiting up to wait for a concurrent exchange that
// has claimed the token but not yet recorded its pair. ok is false once
// the window has passed (or when there was none).
func (r *Revoker) Successor(ctx context.Context, jti string, wait time.Duration) (pair []byte, ok bool, err error) {
	deadline := time.Now().Add(wait)
	for {
		b, err := r.RDB.Get(ctx, successorKey(jti)).Bytes()
		switch {
		case err == redis.Nil:
			return nil, false, nil
		case err != nil:
			return nil, false, fmt.Errorf("read refresh successor: %w", err)
		case len(b) > 0:
			return b, true, nil
		case time.Now().After(deadline):
			return nil, false, fmt.Errorf("read refresh successor: still pending after %s", wait)
		}
		select {
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// RevokeUser voids every token the user holds now (password or role change,
// deletion).
func (r *Revoker) RevokeUser(ctx context.Context, userID string) error {
	ms := strconv.FormatInt(time.Now().UnixMilli(), 10)
	if err := r.RDB.Set(ctx, cutoffKey(userID), ms, r.TTL).Err(); err != nil {
		return fmt.Errorf("revoke tokens of user %s: %w", userID, err)
	}
	return nil
}

// Valid reports whether a token of userID with id jti issued at issuedMs
// has been neither revoked nor cut off, in one round trip; when it has, it
// says why (one of the Reason constants).
func (r *Revoker) Valid(ctx context.Context, jti, userID string, issuedMs int64) (ok bool, reason string, err error) {
	vals, err := r.RDB.MGet(ctx, revokedKey(jti), cutoffKey(userID)).Result()
	if err != nil {
		return false, "", fmt.Errorf("check revocation: %w", err)
	}
	if s, revoked := vals[0].(string); revoked {
		return false, s, nil
	}
	if s, set := vals[1].(string); set {
		cut, _ := strconv.ParseInt(s, 10, 64)
		if issuedMs <= cut {
			return false, ReasonCutOff, nil
		}
	}
	return true, "", nil
}

// Limiter limits login attempts within a fixed window: failed attempts per
// (account, client address) — the limit a legitimate owner meets after
// mistyping — a much higher number of failed attempts per account from all
// addresses together, and all attempts per client address. Failures from
// one address therefore never lock the owner out at another.
type Limiter struct {
	RDB        *redis.Client
	MaxPair    int // failed attempts per account and address
	MaxAccount int // failed attempts per account, all addresses
	MaxAddress int // attempts per address, all accounts
	Window     time.Duration
}

func acctKey(email string) string       { return "vox:login:acct:" + email }
func pairKey(email, addr string) string { return "vox:login:pair:" + addr + ":" + email }
func addrKey(addr string) string        { return "vox:login:addr:" + addr }

// Allow counts an attempt from addr for email and reports how long to wait
// when a limit is reached (0: go ahead).
func (l *Limiter) Allow(ctx context.Context, email, addr string) (time.Duration, error) {
	pipe := l.RDB.Pipeline()
	addrN := pipe.Incr(ctx, addrKey(addr))
	pipe.ExpireNX(ctx, addrKey(addr), l.Window)
	addrTTL := pipe.PTTL(ctx, addrKey(addr))
	pairN := pipe.Get(ctx, pairKey(email, addr))
	pairTTL := pipe.PTTL(ctx, pairKey(email, addr))
	acctN := pipe.Get(ctx, acctKey(email))
	acctTTL := pipe.PTTL(ctx, acctKey(email))
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return 0, fmt.Errorf("login rate limit: %w", err)
	}
	if addrN.Val() > int64(l.MaxAddress) {
		return max(addrTTL.Val(), time.Second), nil
	}
	if n, _ := pairN.Int(); n >= l.MaxPair {
		return max(pairTTL.Val(), time.Second), nil
	}
	if n, _ := acctN.Int(); n >= l.MaxAccount {
		return max(acctTTL.Val(), time.Second), nil
	}
	return 0, nil
}

// Failed counts a failed attempt from addr against email.
func (l *Limiter) Failed(ctx context.Context, email, addr string) error {
	pipe := l.RDB.Pipeline()
	for _, k := range []string{pairKey(email, addr), acctKey(email)} {
		pipe.Incr(ctx, k)
		pipe.ExpireNX(ctx, k, l.Window)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("count failed login: %w", err)
	}
	return nil
}

// Succeeded clears the failed attempts of email from addr. The per-account
// count stays: a success from one address does not hide an attack from
// others.
func (l *Limiter) Succeeded(ctx context.Context, email, addr string) error {
	if err := l.RDB.Del(ctx, pairKey(email, addr)).Err(); err != nil {
		return fmt.Errorf("clear failed logins: %w", err)
	}
	return nil
}
