package runtimeclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"

	"github.com/voxplatform/vox/runtimeapi"
)

// AgentCache keeps the last known runtime configuration of each agent, and
// of the agent answering each number, as one JSON file per key in a
// directory on the host. Writes are atomic (temporary file, fsync, rename),
// so a reader — in this process or another worker — sees a whole old or a
// whole new configuration, never a torn one.
type AgentCache struct {
	dir string
}

// NewAgentCache returns a cache in dir, creating it (mode 0700).
func NewAgentCache(dir string) (*AgentCache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("agent cache %s: %w", dir, err)
	}
	return &AgentCache{dir: dir}, nil
}

var (
	cacheIDRE  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	cacheNumRE = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
)

// ErrNotCached is returned by Get for a key never stored.
var ErrNotCached = errors.New("not in the agent cache")

func (c *AgentCache) path(kind, key string) (string, error) {
	re := cacheIDRE
	if kind == "number" {
		re = cacheNumRE
	}
	if !re.MatchString(key) {
		return "", fmt.Errorf("agent cache: bad %s %q", kind, key)
	}
	return filepath.Join(c.dir, kind+"-"+key+".json"), nil
}

// Put stores a under its id.
func (c *AgentCache) Put(a runtimeapi.Agent) error { return c.put("agent", a.ID, a) }

// PutNumber stores a as the agent answering e164.
func (c *AgentCache) PutNumber(e164 string, a runtimeapi.Agent) error {
	return c.put("number", e164, a)
}

// Get returns the agent stored under id.
func (c *AgentCache) Get(id string) (runtimeapi.Agent, error) { return c.get("agent", id) }

// GetNumber returns the agent stored for e164.
func (c *AgentCache) GetNumber(e164 string) (runtimeapi.Agent, error) { return c.get("number", e164) }

func (c *AgentCache) put(kind, key string, a runtimeapi.Agent) error {
	p, err := c.path(kind, key)
	if err != nil {
		return err
	}
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return WriteFileAtomic(p, b, 0o600)
}

func (c *AgentCache) get(kind, key string) (runtimeapi.Agent, error) {
	var a runtimeapi.Agent
	p, err := c.path(kind, key)
	if err != nil {
		return a, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return a, fmt.Errorf("%s %s: %w", kind, key, ErrNotCached)
	} else if err != nil {
		return a, fmt.Errorf("agent cache: %w", err)
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("agent cache %s: %w", p, err)
	}
	return a, nil
}

// WriteFileAtomic writes b to path through a temporary file in the same
// directory that is synced and renamed over path, then syncs the
// directory: after a crash path holds the old content or the new, whole.
func WriteFileAtomic(path string, b []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		return fail(err)
	}
	if err := f.Chmod(mode); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Source says where Agents found a configuration.
type Source string

// Sources of a configuration.
const (
	FromBackend Source = "backend"
	FromCache   Source = "cache" // the Backend could not be reached
)

// Agents reads agent configurations from the Backend through an
// AgentCache: each one read is stored, and when the Backend cannot answer
// (network error, 5xx) the last stored one is returned instead. A 4xx (no
// such agent, number not assigned) is returned as it is: a deleted agent
// must not keep taking calls from its cache.
type Agents struct {
	Client *Client
	Cache  *AgentCache // nil: no fallback
	Logger *slog.Logger
}

// Agent returns agent id's configuration and where it came from.
func (s *Agents) Agent(ctx context.Context, id string) (runtimeapi.Agent, Source, error) {
	a, err := s.Client.Agent(ctx, id)
	return s.through(a, err, "agent", id, s.Cache.Put, s.Cache.Get)
}

// AgentByNumber returns the configuration of the agent answering e164.
func (s *Agents) AgentByNumber(ctx context.Context, e164 string) (runtimeapi.Agent, Source, error) {
	a, err := s.Client.AgentByNumber(ctx, e164)
	return s.through(a, err, "number", e164,
		func(a runtimeapi.Agent) error { return s.Cache.PutNumber(e164, a) }, s.Cache.GetNumber)
}

func (s *Agents) through(a runtimeapi.Agent, err error, kind, key string,
	put func(runtimeapi.Agent) error, get func(string) (runtimeapi.Agent, error)) (runtimeapi.Agent, Source, error) {
	logger := s.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err == nil {
		if s.Cache != nil {
			if perr := put(a); perr != nil {
				logger.Warn("agent cache write failed", kind, key, "err", perr)
			}
		}
		return a, FromBackend, nil
	}
	if s.Cache == nil || Permanent(err) {
		return a, "", err
	}
	cached, cerr := get(key)
	if cerr != nil {
		return a, "", fmt.Errorf("%w; no cached configuration: %v", err, cerr)
	}
	logger.Warn("backend unreachable; using the cached agent configuration", kind, key,
		"updated_at", cached.UpdatedAt, "err", err)
	return cached, FromCache, nil
}
