package config

import (
	"strings"
	"time"
)

// Setting is one environment setting as the loader reads it.
type Setting struct {
	Name     string
	Default  string // as the loader applies it; "" for none
	Required bool
	Help     string
}

// Settings lists every environment setting Load reads, in the order it
// reads them, with the default it applies: the table is the loader's own
// reading of an empty environment, so it cannot drift from it.
func Settings() []Setting {
	_, seen, _ := loadSettings(func(string) string { return "" }, nil, true)
	return seen
}

// formatDuration writes d as a duration setting would be written: 15m, not
// 15m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// help describes each setting for voxbridge -h.
var help = map[string]string{
	"VOXBRIDGE_HOST":                "listen address",
	"VOXBRIDGE_PORT":                "listen port",
	"LOG_LEVEL":                     "debug, info, warn or error",
	"MONGODB_URI":                   "mongodb:// or mongodb+srv:// connection string",
	"MONGODB_DATABASE":              "database name; empty: the URI's path, else voxbridge",
	"BCRYPT_COST":                   "bcrypt cost of password hashes (4-16)",
	"SHUTDOWN_TIMEOUT":              "time in-flight requests get to finish on SIGTERM",
	"REDIS_URL":                     "redis:// URL",
	"JWT_SECRET":                    "signs people's tokens, at least 32 bytes",
	"VOX_SERVICE_SECRET":            "shared service-token secret (Backend, fleet, Dialler)",
	"ACCESS_TOKEN_TTL":              "lifetime of an access token",
	"REFRESH_TOKEN_TTL":             "lifetime of a refresh token",
	"REFRESH_GRACE":                 "how long an exchanged refresh token still returns the same new pair (two tabs refreshing at once); 0: off",
	"LOGIN_MAX_PER_ACCOUNT_ADDRESS": "failed logins per account and client address per window",
	"LOGIN_MAX_PER_ACCOUNT":         "failed logins per account from all addresses per window",
	"LOGIN_MAX_PER_ADDRESS":         "login attempts per client address per window",
	"LOGIN_WINDOW":                  "login limit window",
	"API_KEY_MAX_TTL":               "longest lifetime an API key may be given",
	"API_KEY_TTL":                   "lifetime of an API key created without expires_in_days",
	"REQUEST_TIMEOUT":               "deadline of every request; a database that misses it gives 503",
	"BULK_REQUEST_TIMEOUT":          "deadline of contact uploads and exports",
	"EVENTS_MAX_PER_USER":           "open event streams per user or API key",
	"EVENTS_MAX_PER_ORG":            "open event streams per organisation",
	"EVENTS_RECHECK_INTERVAL":       "how often an event stream's credentials are checked again (at most 30s)",
	"VOXBRIDGE_TRUSTED_PROXIES":     "proxies whose X-Real-IP is believed (IPs or CIDRs)",
	"VOXBRIDGE_BODY_LIMIT":          "largest request body, bytes",
	"VOXBRIDGE_JSON_LIMIT":          "largest JSON body, bytes",
	"VOXBRIDGE_MAX_CONTACTS":        "rows per contact upload",
	"FLEET_POLL_INTERVAL":           "how often each fleet's /health/fleet is read",
	"FLEET_POLL_TIMEOUT":            "timeout of one fleet poll",
	"FLEET_PLATFORM":                "the platform's own fleet hosts, id=url pairs, comma-separated: they take calls of every organisation",
	"FLEET_ALLOWED_NETS":            "networks an organisation's fleet URL may reach although private or loopback (CIDRs or IPs, comma-separated)",
	"FLEET_MAX_PER_ORG":             "fleet hosts one organisation may register",
	"AGENT_CACHE_TTL":               "runtime agent cache lifetime",
	"MINIO_ENDPOINT":                "host:port of MinIO for recording links; empty: off",
	"MINIO_ACCESS_KEY":              "MinIO access key",
	"MINIO_SECRET_KEY":              "MinIO secret key",
	"MINIO_BUCKET":                  "recordings bucket",
	"MINIO_USE_SSL":                 "reach MinIO over TLS",
	"RECORDING_URL_TTL":             "lifetime of a presigned recording link",
	"LIVEKIT_URL":                   "LiveKit server URL as browsers reach it (ws(s)://…); empty: widget calls off (503)",
	"LIVEKIT_API_KEY":               "LiveKit API key that signs widget join tokens",
	"LIVEKIT_API_SECRET":            "LiveKit API secret (at least 32 bytes)",
	"WIDGET_TOKEN_TTL":              "how long a widget caller's join token is valid",
}
