package ingress

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Fleet is one fleet host behind the ingress.
type Fleet struct {
	// Name identifies the host in the configuration and in HAProxy's
	// statistics: 1 to 64 letters, digits and _.-
	Name string `json:"name"`
	// URL is the host's public base URL, https://fleet-1.example.com or,
	// on a private network, http://10.0.0.5:8080.
	URL string `json:"url"`
	// Drain takes the host out of rotation for new calls (weight 0); calls
	// in progress on it carry on.
	Drain bool `json:"drain,omitempty"`
}

// State is what the ingress fronts, kept in a JSON file.
type State struct {
	Fleets []Fleet `json:"fleets"`
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// ErrNotFound is returned for a fleet name that is not in the state.
var ErrNotFound = errors.New("no such fleet")

// ValidateFleet checks a fleet's name and URL.
func ValidateFleet(f Fleet) error {
	if !nameRE.MatchString(f.Name) {
		return fmt.Errorf("fleet name %q: want 1 to 64 letters, digits and _.-", f.Name)
	}
	if _, err := endpointOf(f.URL); err != nil {
		return fmt.Errorf("fleet %s: %w", f.Name, err)
	}
	return nil
}

// endpoint is where HAProxy connects for one fleet.
type endpoint struct {
	Host string // host name or address, for SNI
	Addr string // host:port
	TLS  bool
}

func endpointOf(raw string) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, fmt.Errorf("url %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return endpoint{}, fmt.Errorf("url %q: scheme must be http or https", raw)
	}
	if u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return endpoint{}, fmt.Errorf("url %q: want scheme://host[:port] and nothing else", raw)
	}
	host, port := u.Hostname(), u.Port()
	if strings.ContainsAny(host, " \t\"'#\\") {
		return endpoint{}, fmt.Errorf("url %q: bad host", raw)
	}
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return endpoint{Host: host, Addr: net.JoinHostPort(host, port), TLS: u.Scheme == "https"}, nil
}

// Validate checks every fleet and that names and URLs are unique.
func (s State) Validate() error {
	names, urls := map[string]bool{}, map[string]bool{}
	for _, f := range s.Fleets {
		if err := ValidateFleet(f); err != nil {
			return err
		}
		if names[f.Name] {
			return fmt.Errorf("fleet %s listed twice", f.Name)
		}
		ep, _ := endpointOf(f.URL)
		if urls[ep.Addr] {
			return fmt.Errorf("fleet %s: %s already fronted under another name", f.Name, ep.Addr)
		}
		names[f.Name], urls[ep.Addr] = true, true
	}
	return nil
}

// Add returns the state with f added.
func (s State) Add(f Fleet) (State, error) {
	if s.index(f.Name) >= 0 {
		return s, fmt.Errorf("fleet %s already exists (remove-fleet first to change its URL)", f.Name)
	}
	n := State{Fleets: append(slices.Clone(s.Fleets), f)}
	if err := n.Validate(); err != nil {
		return s, err
	}
	return n, nil
}

// Remove returns the state without the fleet named name.
func (s State) Remove(name string) (State, error) {
	i := s.index(name)
	if i < 0 {
		return s, fmt.Errorf("fleet %s: %w", name, ErrNotFound)
	}
	return State{Fleets: slices.Delete(slices.Clone(s.Fleets), i, i+1)}, nil
}

// SetDrain returns the state with the named fleet's Drain set to drain.
func (s State) SetDrain(name string, drain bool) (State, error) {
	i := s.index(name)
	if i < 0 {
		return s, fmt.Errorf("fleet %s: %w", name, ErrNotFound)
	}
	n := State{Fleets: slices.Clone(s.Fleets)}
	n.Fleets[i].Drain = drain
	return n, nil
}

func (s State) index(name string) int {
	return slices.IndexFunc(s.Fleets, func(f Fleet) bool { return f.Name == name })
}

// Load reads the state file; a missing file is an empty state.
func Load(path string) (State, error) {
	var s State
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read state: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("state %s: %w", path, err)
	}
	if err := s.Validate(); err != nil {
		return s, fmt.Errorf("state %s: %w", path, err)
	}
	return s, nil
}

// Save writes the state file atomically (temporary file, fsync, rename).
func Save(path string, s State) error {
	if s.Fleets == nil {
		s.Fleets = []Fleet{}
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(path, append(b, '\n'), 0o644)
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	return nil
}
