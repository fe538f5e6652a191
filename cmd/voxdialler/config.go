package main

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/voxplatform/vox/lkapi"
	"github.com/voxplatform/vox/pacing"
	"github.com/voxplatform/vox/svcauth"
)

// Placers voxdialler can place calls with.
const (
	PlacerLiveKit  = "livekit"
	PlacerSimulate = "simulate"
)

// config is voxdialler's configuration.
type config struct {
	MongoURI      string
	MongoDatabase string
	LogLevel      string
	Interval      time.Duration
	HealthHost    string
	HealthPort    int
	Owner         string
	LeaderTTL     time.Duration
	Placer        string
	RingTimeout   time.Duration
	AttachTimeout time.Duration
	MaxCall       time.Duration
	AbandonCap    float64
	// HangUpAfter and HangUpRisk: the pacer hangs up a dial that has rung
	// HangUpAfter and whose predicted chance of abandon is over HangUpRisk
	// (0: never).
	HangUpAfter time.Duration
	HangUpRisk  float64
	Drain       time.Duration
	IndexWait   time.Duration

	// livekit placer
	BackendURL    string
	ServiceSecret string
	LiveKit       lkapi.Config

	// simulate placer
	Sim simConfig
}

type simConfig struct {
	Workers        int
	PAnswer, PBusy float64
	PFail          float64
	RingMin        time.Duration
	RingMax        time.Duration
	Handle         time.Duration
	Seed           uint64
	Log            string
}

// setting is one environment setting as the loader reads it.
type setting struct {
	Name, Default, Help string
	// When says when the setting is required ("" never, "always", or the
	// placer that needs it).
	When string
}

// settings lists every setting, in the order -h shows them.
var settings = []setting{
	{"MONGODB_URI", "", "mongodb:// or mongodb+srv:// connection string (the Backend's database)", "always"},
	{"MONGODB_DATABASE", "", "database name; empty: the URI's path, else voxbridge", ""},
	{"LOG_LEVEL", "info", "debug, info, warn or error", ""},
	{"LOOP_INTERVAL_SECONDS", "2.0", "seconds between ticks", ""},
	{"HEALTH_HOST", "127.0.0.1", "address of /health and /metrics (0.0.0.0 to let Prometheus scrape from elsewhere)", ""},
	{"HEALTH_PORT", "8090", "port of /health and /metrics", ""},
	{"DIALLER_ID", "HOSTNAME-PID", "this process's name in the leader document and on leases", ""},
	{"DIALLER_LEADER_TTL_SECONDS", "6", "leader lease; a standby takes over at most this long after the leader dies", ""},
	{"DIALLER_PLACER", PlacerLiveKit, "livekit (SIP calls through LiveKit, attached to the fleets) or simulate (no carrier: development and tests)", ""},
	{"DIALLER_RING_TIMEOUT_SECONDS", "25", "how long a call rings before it is given up (livekit: at least 15)", ""},
	{"DIALLER_ATTACH_TIMEOUT_SECONDS", "10", "how long handing an answered call to a worker may take before it is abandoned", ""},
	{"DIALLER_MAX_CALL_SECONDS", "3600", "longest call placed", ""},
	{"DIALLER_ABANDON_CAP", "0.03", "abandon rate each campaign stays under, per 24 hours and per 30 days", ""},
	{"DIALLER_HANG_UP_AFTER_SECONDS", "17", "least ring before the pacer may hang up a dial whose answer would likely find no free worker (at least 15, the legal least ring)", ""},
	{"DIALLER_HANG_UP_RISK", "0.05", "chance of abandon above which such a dial is hung up; 0: dials ring until answered or the ring timeout", ""},
	{"DIALLER_DRAIN_SECONDS", "60", "on SIGTERM, how long calls placed may still be answered and attached", ""},
	{"DIALLER_INDEX_WAIT_SECONDS", "300", "how long to wait at start for the indexes voxbridge creates", ""},
	{"VOXBRIDGE_URL", "", "the Backend's base URL, for fleet capacity and selection", PlacerLiveKit},
	{"VOX_SERVICE_SECRET", "", "shared service-token secret (Backend, fleet, Dialler)", PlacerLiveKit},
	{"LIVEKIT_URL", "", "LiveKit server URL (http(s):// or ws(s)://)", PlacerLiveKit},
	{"LIVEKIT_API_KEY", "", "LiveKit API key", PlacerLiveKit},
	{"LIVEKIT_API_SECRET", "", "LiveKit API secret (at least 32 characters)", PlacerLiveKit},
	{"DIALLER_SIM_WORKERS", "10", "simulate: fleet workers", ""},
	{"DIALLER_SIM_ANSWER", "0.3", "simulate: chance a person answers", ""},
	{"DIALLER_SIM_BUSY", "0.1", "simulate: chance the line is busy", ""},
	{"DIALLER_SIM_FAIL", "0.02", "simulate: chance the call fails", ""},
	{"DIALLER_SIM_RING_MIN_SECONDS", "5", "simulate: earliest answer", ""},
	{"DIALLER_SIM_RING_MAX_SECONDS", "25", "simulate: latest answer", ""},
	{"DIALLER_SIM_HANDLE_SECONDS", "120", "simulate: mean handle time (log-normal, CV 0.5)", ""},
	{"DIALLER_SIM_SEED", "1", "simulate: random seed", ""},
	{"DIALLER_SIM_LOG", "", "simulate: file to append one line per call placed", ""},
}

// flagNames maps flags to the settings they override.
var flagNames = map[string]string{
	"--mongodb-uri": "MONGODB_URI", "--log-level": "LOG_LEVEL", "--interval": "LOOP_INTERVAL_SECONDS",
	"--health-host": "HEALTH_HOST", "--health-port": "HEALTH_PORT", "--id": "DIALLER_ID", "--placer": "DIALLER_PLACER",
}

// configError names every missing or bad setting.
type configError struct{ problems []string }

func (e *configError) Error() string {
	return "bad configuration:\n  " + strings.Join(e.problems, "\n  ")
}

// loadConfig reads the environment, with flags (--name value or
// --name=value) overriding it, and checks every setting.
func loadConfig(getenv func(string) string, args []string) (config, error) {
	vals := map[string]string{}
	var problems []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(a, "=")
		key, ok := flagNames[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("unknown argument %q (voxdialler -h lists the flags)", a))
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				problems = append(problems, fmt.Sprintf("%s: needs a value", name))
				continue
			}
			i++
			val = args[i]
		}
		vals[key] = val
	}
	get := func(name string) string {
		if v, ok := vals[name]; ok {
			return v
		}
		if v := getenv(name); v != "" {
			return v
		}
		for _, s := range settings {
			if s.Name == name {
				return s.Default
			}
		}
		return ""
	}
	bad := func(name, format string, a ...any) {
		problems = append(problems, name+": "+fmt.Sprintf(format, a...))
	}
	var c config
	c.Placer = get("DIALLER_PLACER")
	if c.Placer != PlacerLiveKit && c.Placer != PlacerSimulate {
		bad("DIALLER_PLACER", "must be livekit or simulate, got %q", c.Placer)
	}
	for _, s := range settings {
		if (s.When == "always" || s.When == c.Placer) && get(s.Name) == "" {
			bad(s.Name, "required%s", map[bool]string{true: " with DIALLER_PLACER=" + c.Placer}[s.When != "always"])
		}
	}
	seconds := func(name string, lo, hi float64) time.Duration {
		v, err := strconv.ParseFloat(get(name), 64)
		if err != nil || v < lo || v > hi {
			bad(name, "must be a number of seconds from %v to %v, got %q", lo, hi, get(name))
			return 0
		}
		return time.Duration(v * float64(time.Second))
	}
	number := func(name string, lo, hi float64) float64 {
		v, err := strconv.ParseFloat(get(name), 64)
		if err != nil || v < lo || v > hi {
			bad(name, "must be a number from %v to %v, got %q", lo, hi, get(name))
		}
		return v
	}
	c.MongoURI = get("MONGODB_URI")
	if c.MongoURI != "" {
		u, err := url.Parse(c.MongoURI)
		switch {
		case err != nil:
			bad("MONGODB_URI", "not a URL")
		case u.Scheme != "mongodb" && u.Scheme != "mongodb+srv":
			bad("MONGODB_URI", "scheme must be mongodb or mongodb+srv, got %q", u.Scheme)
		case u.Host == "":
			bad("MONGODB_URI", "has no host")
		default:
			c.MongoDatabase = get("MONGODB_DATABASE")
			if c.MongoDatabase == "" {
				c.MongoDatabase = strings.Trim(u.Path, "/")
			}
			if c.MongoDatabase == "" {
				c.MongoDatabase = "voxbridge"
			}
		}
	}
	c.LogLevel = get("LOG_LEVEL")
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("LOG_LEVEL", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	c.Interval = seconds("LOOP_INTERVAL_SECONDS", 0.05, 60)
	c.HealthHost = get("HEALTH_HOST")
	c.HealthPort = int(number("HEALTH_PORT", 0, 65535))
	c.Owner = get("DIALLER_ID")
	if c.Owner == "HOSTNAME-PID" {
		h, _ := os.Hostname()
		c.Owner = fmt.Sprintf("%s-%d", h, os.Getpid())
	}
	c.LeaderTTL = seconds("DIALLER_LEADER_TTL_SECONDS", 0.1, 300)
	if c.Interval > 0 && c.LeaderTTL > 0 && c.LeaderTTL < 2*c.Interval {
		bad("DIALLER_LEADER_TTL_SECONDS", "must be at least two loop intervals (%v)", (2 * c.Interval).Seconds())
	}
	lo := 1.0
	if c.Placer == PlacerLiveKit {
		lo = 15
	}
	if c.Placer == PlacerSimulate {
		lo = 0.05
	}
	c.RingTimeout = seconds("DIALLER_RING_TIMEOUT_SECONDS", lo, 120)
	c.AttachTimeout = seconds("DIALLER_ATTACH_TIMEOUT_SECONDS", 0.1, 120)
	c.MaxCall = seconds("DIALLER_MAX_CALL_SECONDS", 10, 4*3600)
	c.AbandonCap = number("DIALLER_ABANDON_CAP", 0.001, 0.5)
	c.HangUpAfter = seconds("DIALLER_HANG_UP_AFTER_SECONDS", pacing.MinRing, 120)
	c.HangUpRisk = number("DIALLER_HANG_UP_RISK", 0, 0.99)
	c.Drain = seconds("DIALLER_DRAIN_SECONDS", 0, 3600)
	c.IndexWait = seconds("DIALLER_INDEX_WAIT_SECONDS", 0, 86400)
	switch c.Placer {
	case PlacerLiveKit:
		c.BackendURL = strings.TrimRight(get("VOXBRIDGE_URL"), "/")
		if u, err := url.Parse(c.BackendURL); c.BackendURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
			bad("VOXBRIDGE_URL", "must be an http(s) URL")
		}
		c.ServiceSecret = get("VOX_SERVICE_SECRET")
		if c.ServiceSecret != "" {
			if err := svcauth.ValidateSecret(c.ServiceSecret); err != nil {
				bad("VOX_SERVICE_SECRET", "%v", err)
			}
		}
		c.LiveKit = lkapi.Config{URL: get("LIVEKIT_URL"), Key: get("LIVEKIT_API_KEY"), Secret: get("LIVEKIT_API_SECRET")}
		if c.LiveKit.URL != "" && c.LiveKit.Key != "" && c.LiveKit.Secret != "" {
			if err := c.LiveKit.Validate("LIVEKIT_"); err != nil {
				problems = append(problems, strings.Split(err.Error(), "\n")...)
			}
		}
	case PlacerSimulate:
		c.Sim = simConfig{
			Workers: int(number("DIALLER_SIM_WORKERS", 0, 100000)),
			PAnswer: number("DIALLER_SIM_ANSWER", 0, 1), PBusy: number("DIALLER_SIM_BUSY", 0, 1),
			PFail:   number("DIALLER_SIM_FAIL", 0, 1),
			RingMin: seconds("DIALLER_SIM_RING_MIN_SECONDS", 0, 120), RingMax: seconds("DIALLER_SIM_RING_MAX_SECONDS", 0, 120),
			Handle: seconds("DIALLER_SIM_HANDLE_SECONDS", 0.01, 36000), Seed: uint64(number("DIALLER_SIM_SEED", 0, 1<<53)),
			Log: get("DIALLER_SIM_LOG"),
		}
		if c.Sim.PAnswer+c.Sim.PBusy+c.Sim.PFail > 1 {
			bad("DIALLER_SIM_ANSWER", "answer, busy and fail chances add up to more than 1")
		}
	}
	if len(problems) > 0 {
		return c, &configError{problems: problems}
	}
	return c, nil
}
