package devstack

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Port offsets from Config.PortBase. Fixed offsets keep the addresses the
// same from one run to the next, so a browser tab or a shell variable keeps
// working after a restart.
const (
	offConsole  = 0  // nginx: the API site (Console + /api)
	offBridge   = 1  // voxbridge
	offFleet    = 2  // nginx: the fleet site
	offDaemon   = 3  // voxfleet's /health/fleet and /metrics
	offDialler  = 4  // voxdialler's /health and /metrics
	offRedis    = 10 // Redis
	offMongo    = 11 // the MongoDB-wire server
	offMinIO    = 12 // MinIO API
	offLiveKit  = 20 // livekit-server signalling
	offRTCTCP   = 21 // livekit-server ICE over TCP
	offRTCFirst = 30 // livekit-server ICE UDP range start
	offRTCLast  = 59 // and end

	// PortSpan is how many ports from PortBase the stack may use.
	PortSpan = 60
)

// DefaultPortBase is where `make dev` puts its ports: 7700 (Console) to 7759.
const DefaultPortBase = 7700

// Config says where the stack lives.
type Config struct {
	// Root is the repository: tools are taken from Root/.cache, the
	// Console from Root/frontend/dist.
	Root string
	// BinDir holds voxbridge, voxfleet and voxdialler; Root/bin when empty.
	BinDir string
	// ConsoleDir is the Console's build the API site serves;
	// Root/frontend/dist when empty (`make console-build`).
	ConsoleDir string
	// Dir keeps the stack's secrets, data, logs and state (git-ignored);
	// Root/.dev by default.
	Dir string
	// PortBase is the first of PortSpan loopback ports; DefaultPortBase
	// when zero.
	PortBase int
	// Workers is the fleet's worker count; 4 when zero.
	Workers int
	// Quiet suppresses the progress lines on Out.
	Quiet bool
	// Force, once closed, makes the stop that follows the end of Up's
	// context kill each part and every process it started at once,
	// instead of giving it its grace period (a second Ctrl-C).
	Force <-chan struct{}
}

func (c Config) withDefaults() (Config, error) {
	if c.Root == "" {
		return c, fmt.Errorf("devstack: no repository root")
	}
	if c.Dir == "" {
		c.Dir = filepath.Join(c.Root, ".dev")
	}
	if c.BinDir == "" {
		c.BinDir = filepath.Join(c.Root, "bin")
	}
	if c.ConsoleDir == "" {
		c.ConsoleDir = filepath.Join(c.Root, "frontend", "dist")
	}
	if c.PortBase == 0 {
		c.PortBase = DefaultPortBase
	}
	if c.PortBase < 1024 || c.PortBase+PortSpan > 65535 {
		return c, fmt.Errorf("devstack: port base %d: must leave %d ports between 1024 and 65535", c.PortBase, PortSpan)
	}
	if c.Workers == 0 {
		c.Workers = 4
	}
	return c, nil
}

func (c Config) addr(off int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.PortBase+off))
}
func (c Config) path(elem ...string) string {
	return filepath.Join(append([]string{c.Dir}, elem...)...)
}

// Secrets are the development secrets of one stack directory, generated on
// first use and kept in Dir/secrets.env (mode 0600) so that data written by
// one run (password hashes, signed tokens, MinIO objects) stays readable by
// the next.
type Secrets map[string]string

// secretNames are generated when missing: name → random bytes.
var secretNames = map[string]int{
	"JWT_SECRET":                   32,
	"VOX_SERVICE_SECRET":           32,
	"MINIO_ROOT_USER":              8,
	"MINIO_ROOT_PASSWORD":          24,
	"LIVEKIT_API_KEY":              6,
	"LIVEKIT_API_SECRET":           32,
	"VOXBRIDGE_BOOTSTRAP_PASSWORD": 9,
}

// loadSecrets reads Dir/secrets.env and adds any missing secret.
func loadSecrets(dir string) (Secrets, error) {
	p := filepath.Join(dir, "secrets.env")
	s := Secrets{}
	if f, err := os.Open(p); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
				s[k] = v
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
	} else if !os.IsNotExist(err) {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	changed := false
	for name, n := range secretNames {
		if s[name] != "" {
			continue
		}
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		s[name] = hex.EncodeToString(b)
		if name == "LIVEKIT_API_KEY" {
			s[name] = "dev" + s[name]
		}
		changed = true
	}
	if !changed {
		return s, nil
	}
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Development secrets of `make dev`, generated once. Never use them anywhere else.\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, s[k])
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return nil, fmt.Errorf("write %s: %w", p, err)
	}
	return s, nil
}

// Part is one running part of the stack as `voxdev status` reports it.
type Part struct {
	Name string `json:"name"`
	// URL is where a person reaches it.
	URL string `json:"url"`
	// Health is the URL whose 200 means healthy; empty: a TCP connect to
	// Addr is the check.
	Health string `json:"health,omitempty"`
	// Metrics, when set, must answer 200 too (Prometheus /metrics).
	Metrics string `json:"metrics,omitempty"`
	Addr    string `json:"addr"`
	PID     int    `json:"pid"`
}

// State is what a running stack writes to Dir/stack.json.
type State struct {
	PID   int    `json:"pid"` // voxdev's own
	Parts []Part `json:"parts"`
	// Login is the development user's e-mail; the password is
	// VOXBRIDGE_BOOTSTRAP_PASSWORD in secrets.env.
	Login string `json:"login"`
}

// ReadState reads the state file a running stack keeps in dir.
func ReadState(dir string) (State, error) {
	var s State
	b, err := os.ReadFile(filepath.Join(dir, "stack.json"))
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("read %s: %w", filepath.Join(dir, "stack.json"), err)
	}
	return s, nil
}

func writeState(dir string, s State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	p := filepath.Join(dir, "stack.json")
	if err := os.WriteFile(p+".tmp", b, 0o644); err != nil {
		return err
	}
	return os.Rename(p+".tmp", p)
}
