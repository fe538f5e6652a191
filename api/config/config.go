package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/voxplatform/vox/svcauth"
)

var hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$`)

// MinJWTSecretLen is the shortest JWT_SECRET accepted, in bytes.
const MinJWTSecretLen = 32

// Config is voxbridge's complete configuration.
type Config struct {
	Host string // VOXBRIDGE_HOST, default 0.0.0.0
	Port int    // VOXBRIDGE_PORT, default 8080

	MongoURI      string // MONGODB_URI, required
	MongoDatabase string // MONGODB_DATABASE, default: the URI's path, else "voxbridge"
	RedisURL      string // REDIS_URL, required

	JWTSecret     []byte // JWT_SECRET, required, >= MinJWTSecretLen bytes
	ServiceSecret []byte // VOX_SERVICE_SECRET, required, see svcauth.ValidateSecret

	AccessTTL  time.Duration // ACCESS_TOKEN_TTL, default 15m
	RefreshTTL time.Duration // REFRESH_TOKEN_TTL, default 720h
	// RefreshGrace is REFRESH_GRACE, default 10s: for this long after a
	// refresh token is exchanged, exchanging it again (a second browser tab
	// refreshing at the same moment) returns the same new pair instead of
	// voiding every token of the user; 0 turns the grace off.
	RefreshGrace time.Duration
	BcryptCost   int // BCRYPT_COST, default 12

	LoginMaxPerAccountAddress int           // LOGIN_MAX_PER_ACCOUNT_ADDRESS failed attempts per account and address per window, default 5
	LoginMaxPerAccount        int           // LOGIN_MAX_PER_ACCOUNT failed attempts per account from all addresses per window, default 100
	LoginMaxPerAddress        int           // LOGIN_MAX_PER_ADDRESS attempts per window, default 30
	LoginWindow               time.Duration // LOGIN_WINDOW, default 15m

	APIKeyTTL    time.Duration // API_KEY_TTL, lifetime of a key created without expires_in_days, default 90 days
	APIKeyMaxTTL time.Duration // API_KEY_MAX_TTL, longest lifetime a key may be given, default 365 days

	RequestTimeout     time.Duration // REQUEST_TIMEOUT, deadline of every request's handler, default 5s
	BulkRequestTimeout time.Duration // BULK_REQUEST_TIMEOUT, deadline of contact uploads and exports, default 60s

	EventsMaxPerUser int           // EVENTS_MAX_PER_USER open event streams per user or API key, default 5
	EventsMaxPerOrg  int           // EVENTS_MAX_PER_ORG open event streams per organisation, default 100
	EventsRecheck    time.Duration // EVENTS_RECHECK_INTERVAL, how often a stream's credentials are checked again, default 30s

	TrustedProxies []string // VOXBRIDGE_TRUSTED_PROXIES, default 127.0.0.1,::1

	BodyLimit   int // VOXBRIDGE_BODY_LIMIT bytes for uploads, default 4 MiB
	JSONLimit   int // VOXBRIDGE_JSON_LIMIT bytes for JSON bodies, default 64 KiB
	MaxContacts int // VOXBRIDGE_MAX_CONTACTS per upload, default 20000

	FleetPollInterval time.Duration // FLEET_POLL_INTERVAL, default 2s
	FleetPollTimeout  time.Duration // FLEET_POLL_TIMEOUT, default 1.5s
	AgentCacheTTL     time.Duration // AGENT_CACHE_TTL, default 10m
	Fleets            Fleets        // FLEET_PLATFORM, FLEET_ALLOWED_NETS, FLEET_MAX_PER_ORG

	MinIO   MinIO
	LiveKit LiveKit

	ShutdownTimeout time.Duration // SHUTDOWN_TIMEOUT, default 20s
	LogLevel        string        // LOG_LEVEL: debug, info, warn, error; default info
}

// MinIO holds the optional recording store settings. Recording links are
// served only when Endpoint is set.
type MinIO struct {
	Endpoint  string        // MINIO_ENDPOINT host:port
	AccessKey string        // MINIO_ACCESS_KEY
	SecretKey string        // MINIO_SECRET_KEY
	Bucket    string        // MINIO_BUCKET, default "recordings"
	UseSSL    bool          // MINIO_USE_SSL, default false
	URLTTL    time.Duration // RECORDING_URL_TTL, default 5m, at most 1h
}

// LiveKit holds the optional LiveKit settings: with them the Backend mints
// join tokens for browser widget callers (POST /api/v1/agents/{id}/widget).
type LiveKit struct {
	URL       string        // LIVEKIT_URL, ws(s):// or http(s):// of the LiveKit server as browsers reach it
	APIKey    string        // LIVEKIT_API_KEY
	APISecret string        // LIVEKIT_API_SECRET, at least 32 bytes
	TokenTTL  time.Duration // WIDGET_TOKEN_TTL, how long a widget join token is valid, default 10m
}

// Enabled reports whether widget calls can be offered.
func (l LiveKit) Enabled() bool { return l.URL != "" }

// MinLiveKitSecretLen is the shortest LIVEKIT_API_SECRET accepted, in bytes
// (livekit-server refuses shorter ones).
const MinLiveKitSecretLen = 32

// Enabled reports whether recording links can be served.
func (m MinIO) Enabled() bool { return m.Endpoint != "" }

// Addr is the host:port the HTTP server listens on.
func (c *Config) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// Error lists every problem found in the configuration.
type Error struct {
	Problems []string // one "NAME: what is wrong" per bad setting
}

// Error lists the problems on one line.
func (e *Error) Error() string {
	return "invalid configuration: " + strings.Join(e.Problems, "; ")
}

// Load reads the configuration from getenv, then applies flag overrides from
// args. It returns an *Error naming every missing or bad setting.
func Load(getenv func(string) string, args []string) (*Config, error) {
	return load(getenv, args, true)
}

// LoadMongoOnly is Load for commands that need only MongoDB (bootstrap): the
// other required settings may be absent.
func LoadMongoOnly(getenv func(string) string, args []string) (*Config, error) {
	return load(getenv, args, false)
}

type parser struct {
	getenv   func(string) string
	problems []string
	seen     []Setting // every setting read, with its default
}

// note records a setting as read, with its default as the loader applies it.
func (p *parser) note(name, def string, required bool) {
	p.seen = append(p.seen, Setting{Name: name, Default: def, Required: required, Help: help[name]})
}

func (p *parser) bad(name, format string, a ...any) {
	p.problems = append(p.problems, name+": "+fmt.Sprintf(format, a...))
}

func (p *parser) str(name, def string) string {
	p.note(name, def, false)
	if v := strings.TrimSpace(p.getenv(name)); v != "" {
		return v
	}
	return def
}

func (p *parser) required(name string) string {
	p.note(name, "", true)
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		p.bad(name, "required but not set")
	}
	return v
}

func (p *parser) integer(name string, def, lo, hi int) int {
	p.note(name, strconv.Itoa(def), false)
	v := p.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < lo || n > hi {
		p.bad(name, "must be an integer in [%d, %d], got %q", lo, hi, v)
		return def
	}
	return n
}

func (p *parser) duration(name string, def, lo, hi time.Duration) time.Duration {
	p.note(name, formatDuration(def), false)
	v := p.getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d < lo || d > hi {
		p.bad(name, "must be a duration in [%s, %s], got %q", lo, hi, v)
		return def
	}
	return d
}

func (p *parser) boolean(name string, def bool) bool {
	p.note(name, strconv.FormatBool(def), false)
	v := p.getenv(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		p.bad(name, "must be true or false, got %q", v)
		return def
	}
	return b
}

func load(getenv func(string) string, args []string, full bool) (*Config, error) {
	c, _, err := loadSettings(getenv, args, full)
	return c, err
}

func loadSettings(getenv func(string) string, args []string, full bool) (*Config, []Setting, error) {
	p := &parser{getenv: getenv}
	c := &Config{}
	c.Host = p.str("VOXBRIDGE_HOST", "0.0.0.0")
	if net.ParseIP(c.Host) == nil && !hostRE.MatchString(c.Host) {
		p.bad("VOXBRIDGE_HOST", "must be an IP address or host name, got %q", c.Host)
	}
	c.Port = p.integer("VOXBRIDGE_PORT", 8080, 1, 65535)
	c.LogLevel = p.str("LOG_LEVEL", "info")

	c.MongoURI = p.required("MONGODB_URI")
	c.MongoDatabase = p.str("MONGODB_DATABASE", "")
	if c.MongoURI != "" {
		u, err := url.Parse(c.MongoURI)
		switch {
		case err != nil:
			p.bad("MONGODB_URI", "not a URL: %v", errors.Unwrap(err))
		case u.Scheme != "mongodb" && u.Scheme != "mongodb+srv":
			p.bad("MONGODB_URI", "scheme must be mongodb or mongodb+srv, got %q", u.Scheme)
		case u.Host == "":
			p.bad("MONGODB_URI", "has no host")
		case c.MongoDatabase == "":
			c.MongoDatabase = strings.Trim(u.Path, "/")
		}
	}
	if c.MongoDatabase == "" {
		c.MongoDatabase = "voxbridge"
	}

	c.BcryptCost = p.integer("BCRYPT_COST", 12, 4, 16)
	c.ShutdownTimeout = p.duration("SHUTDOWN_TIMEOUT", 20*time.Second, time.Second, 10*time.Minute)

	if full {
		c.RedisURL = p.required("REDIS_URL")
		if c.RedisURL != "" {
			if _, err := redis.ParseURL(c.RedisURL); err != nil {
				p.bad("REDIS_URL", "%v", err)
			}
		}
		if s := p.required("JWT_SECRET"); s != "" {
			if len(s) < MinJWTSecretLen {
				p.bad("JWT_SECRET", "must be at least %d bytes, got %d", MinJWTSecretLen, len(s))
			}
			c.JWTSecret = []byte(s)
		}
		if s := p.required("VOX_SERVICE_SECRET"); s != "" {
			if err := svcauth.ValidateSecret(s); err != nil {
				p.bad("VOX_SERVICE_SECRET", "%v", err)
			}
			c.ServiceSecret = []byte(s)
		}
	}
	c.AccessTTL = p.duration("ACCESS_TOKEN_TTL", 15*time.Minute, time.Minute, 24*time.Hour)
	c.RefreshTTL = p.duration("REFRESH_TOKEN_TTL", 720*time.Hour, time.Hour, 90*24*time.Hour)
	c.RefreshGrace = p.duration("REFRESH_GRACE", 10*time.Second, 0, time.Minute)
	c.LoginMaxPerAccountAddress = p.integer("LOGIN_MAX_PER_ACCOUNT_ADDRESS", 5, 1, 1000)
	c.LoginMaxPerAccount = p.integer("LOGIN_MAX_PER_ACCOUNT", 100, 1, 100000)
	c.LoginMaxPerAddress = p.integer("LOGIN_MAX_PER_ADDRESS", 30, 1, 100000)
	c.LoginWindow = p.duration("LOGIN_WINDOW", 15*time.Minute, time.Second, 24*time.Hour)
	if c.LoginMaxPerAccount < c.LoginMaxPerAccountAddress {
		p.bad("LOGIN_MAX_PER_ACCOUNT", "must be at least LOGIN_MAX_PER_ACCOUNT_ADDRESS (%d), got %d", c.LoginMaxPerAccountAddress, c.LoginMaxPerAccount)
	}
	c.APIKeyMaxTTL = p.duration("API_KEY_MAX_TTL", 365*24*time.Hour, 24*time.Hour, 10*365*24*time.Hour)
	c.APIKeyTTL = p.duration("API_KEY_TTL", 90*24*time.Hour, 24*time.Hour, 10*365*24*time.Hour)
	if c.APIKeyTTL > c.APIKeyMaxTTL {
		p.bad("API_KEY_TTL", "must be at most API_KEY_MAX_TTL (%s), got %s", c.APIKeyMaxTTL, c.APIKeyTTL)
	}
	c.RequestTimeout = p.duration("REQUEST_TIMEOUT", 5*time.Second, 100*time.Millisecond, 10*time.Minute)
	c.BulkRequestTimeout = p.duration("BULK_REQUEST_TIMEOUT", time.Minute, time.Second, time.Hour)
	c.EventsMaxPerUser = p.integer("EVENTS_MAX_PER_USER", 5, 1, 1000)
	c.EventsMaxPerOrg = p.integer("EVENTS_MAX_PER_ORG", 100, 1, 100000)
	c.EventsRecheck = p.duration("EVENTS_RECHECK_INTERVAL", 30*time.Second, 100*time.Millisecond, 30*time.Second)
	c.TrustedProxies = splitList(p.str("VOXBRIDGE_TRUSTED_PROXIES", "127.0.0.1,::1"))
	for _, tp := range c.TrustedProxies {
		if net.ParseIP(tp) == nil {
			if _, _, err := net.ParseCIDR(tp); err != nil {
				p.bad("VOXBRIDGE_TRUSTED_PROXIES", "%q is neither an IP address nor a CIDR", tp)
			}
		}
	}
	c.BodyLimit = p.integer("VOXBRIDGE_BODY_LIMIT", 4<<20, 1<<10, 256<<20)
	c.JSONLimit = p.integer("VOXBRIDGE_JSON_LIMIT", 64<<10, 1<<10, 16<<20)
	c.MaxContacts = p.integer("VOXBRIDGE_MAX_CONTACTS", 20000, 1, 1000000)
	c.FleetPollInterval = p.duration("FLEET_POLL_INTERVAL", 2*time.Second, 100*time.Millisecond, time.Minute)
	c.FleetPollTimeout = p.duration("FLEET_POLL_TIMEOUT", 1500*time.Millisecond, 50*time.Millisecond, time.Minute)
	c.AgentCacheTTL = p.duration("AGENT_CACHE_TTL", 10*time.Minute, time.Second, 24*time.Hour)
	p.fleets(c)

	c.MinIO = MinIO{
		Endpoint:  p.str("MINIO_ENDPOINT", ""),
		AccessKey: p.str("MINIO_ACCESS_KEY", ""),
		SecretKey: p.str("MINIO_SECRET_KEY", ""),
		Bucket:    p.str("MINIO_BUCKET", "recordings"),
		UseSSL:    p.boolean("MINIO_USE_SSL", false),
		URLTTL:    p.duration("RECORDING_URL_TTL", 5*time.Minute, 10*time.Second, time.Hour),
	}
	if m := c.MinIO; m.Endpoint != "" {
		if _, _, err := net.SplitHostPort(m.Endpoint); err != nil || strings.Contains(m.Endpoint, "/") {
			p.bad("MINIO_ENDPOINT", "must be host:port, got %q", m.Endpoint)
		}
		if m.AccessKey == "" {
			p.bad("MINIO_ACCESS_KEY", "required when MINIO_ENDPOINT is set")
		}
		if m.SecretKey == "" {
			p.bad("MINIO_SECRET_KEY", "required when MINIO_ENDPOINT is set")
		}
	}

	c.LiveKit = LiveKit{
		URL:       p.str("LIVEKIT_URL", ""),
		APIKey:    p.str("LIVEKIT_API_KEY", ""),
		APISecret: p.str("LIVEKIT_API_SECRET", ""),
		TokenTTL:  p.duration("WIDGET_TOKEN_TTL", 10*time.Minute, 30*time.Second, time.Hour),
	}
	if l := c.LiveKit; l.URL != "" || l.APIKey != "" || l.APISecret != "" {
		if u, err := url.Parse(l.URL); err != nil || u.Host == "" ||
			(u.Scheme != "ws" && u.Scheme != "wss" && u.Scheme != "http" && u.Scheme != "https") {
			p.bad("LIVEKIT_URL", "must be a ws(s):// or http(s):// URL, got %q", l.URL)
		}
		if l.APIKey == "" {
			p.bad("LIVEKIT_API_KEY", "required with LIVEKIT_URL")
		}
		if len(l.APISecret) < MinLiveKitSecretLen {
			p.bad("LIVEKIT_API_SECRET", "required with LIVEKIT_URL, at least %d bytes", MinLiveKitSecretLen)
		}
	}

	fs := flag.NewFlagSet("voxbridge", flag.ContinueOnError)
	fs.StringVar(&c.Host, "host", c.Host, "listen host (VOXBRIDGE_HOST)")
	fs.IntVar(&c.Port, "port", c.Port, "listen port (VOXBRIDGE_PORT)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error (LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		p.bad("flags", "%v", err)
	} else if fs.NArg() > 0 {
		p.bad("flags", "unexpected arguments %q", fs.Args())
	}
	if c.Port < 1 || c.Port > 65535 {
		p.bad("VOXBRIDGE_PORT", "must be in [1, 65535], got %d", c.Port)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		p.bad("LOG_LEVEL", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	if len(p.problems) > 0 {
		return nil, p.seen, &Error{Problems: p.problems}
	}
	return c, p.seen, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
