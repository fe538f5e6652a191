package spool

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Subdirectories of a spool.
const (
	dirPending  = "pending"
	dirInflight = "inflight"
	dirFailed   = "failed"
	dirTmp      = "tmp"
	lockFile    = "drain.lock"
	ext         = ".json"
)

// Spool is a spool directory. Its methods are safe for concurrent use by
// goroutines and processes.
type Spool struct {
	dir    string
	notify chan struct{}
}

var keyRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)

// ValidKey reports whether key may name a record: 1 to 128 letters, digits
// and _.:- starting with a letter or digit.
func ValidKey(key string) bool { return keyRE.MatchString(key) }

// Open opens (creating) the spool in dir.
func Open(dir string) (*Spool, error) {
	for _, d := range []string{dirPending, dirInflight, dirFailed, dirTmp} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("open spool %s: %w", dir, err)
		}
	}
	return &Spool{dir: dir, notify: make(chan struct{}, 1)}, nil
}

// Dir is the spool's directory.
func (s *Spool) Dir() string { return s.dir }

// Put stores v (encoded as JSON) under key, replacing an earlier record of
// the key that is not yet being delivered. It returns once the record is
// on disk.
func (s *Spool) Put(key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("spool %s: %w", key, err)
	}
	return s.PutRaw(key, b)
}

// PutRaw is Put of an already encoded record.
func (s *Spool) PutRaw(key string, b []byte) error {
	if !ValidKey(key) {
		return fmt.Errorf("spool: bad key %q", key)
	}
	f, err := os.CreateTemp(filepath.Join(s.dir, dirTmp), key+".*")
	if err != nil {
		return fmt.Errorf("spool %s: %w", key, err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.path(dirPending, key))
	}
	if err == nil {
		err = syncDir(filepath.Join(s.dir, dirPending))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("spool %s: %w", key, err)
	}
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return nil
}

func (s *Spool) path(sub, key string) string { return filepath.Join(s.dir, sub, key+ext) }

// Pending returns the keys waiting for delivery (including those being
// delivered), oldest first.
func (s *Spool) Pending() ([]string, error) {
	keys, err := s.list(dirPending)
	if err != nil {
		return nil, err
	}
	infl, err := s.list(dirInflight)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, k := range keys {
		seen[k] = true
	}
	for _, k := range infl {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// Has reports whether a record of key is waiting or being delivered.
func (s *Spool) Has(key string) bool {
	if !ValidKey(key) {
		return false
	}
	for _, sub := range []string{dirPending, dirInflight} {
		if _, err := os.Stat(s.path(sub, key)); err == nil {
			return true
		}
	}
	return false
}

// Failed returns the keys the sink refused for good.
func (s *Spool) Failed() ([]string, error) { return s.list(dirFailed) }

// Get returns the pending record of key.
func (s *Spool) Get(key string) ([]byte, error) {
	if !ValidKey(key) {
		return nil, fmt.Errorf("spool: bad key %q", key)
	}
	return os.ReadFile(s.path(dirPending, key))
}

// list returns the keys in sub, oldest first.
func (s *Spool) list(sub string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(s.dir, sub))
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	type kt struct {
		key string
		t   time.Time
	}
	var out []kt
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ext)
		if !ok || !ValidKey(name) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, kt{name, info.ModTime()})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].t.Before(out[j].t) })
	keys := make([]string, len(out))
	for i, o := range out {
		keys[i] = o.key
	}
	return keys, nil
}

// claim moves key's pending record into inflight/ and returns its content.
// ok is false when it is gone (claimed or never there).
func (s *Spool) claim(key string) (b []byte, ok bool, err error) {
	if err := os.Rename(s.path(dirPending, key), s.path(dirInflight, key)); errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, fmt.Errorf("spool claim %s: %w", key, err)
	}
	b, err = os.ReadFile(s.path(dirInflight, key))
	if err != nil {
		return nil, false, fmt.Errorf("spool claim %s: %w", key, err)
	}
	return b, true, nil
}

// done removes key's delivered claim.
func (s *Spool) done(key string) error {
	if err := os.Remove(s.path(dirInflight, key)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("spool done %s: %w", key, err)
	}
	return syncDir(filepath.Join(s.dir, dirInflight))
}

// release puts key's claim back into pending/, unless a newer record of
// the key arrived meanwhile (which replaces it).
func (s *Spool) release(key string) error {
	infl := s.path(dirInflight, key)
	err := os.Link(infl, s.path(dirPending, key))
	if err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("spool release %s: %w", key, err)
	}
	if err := os.Remove(infl); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("spool release %s: %w", key, err)
	}
	return syncDir(filepath.Join(s.dir, dirPending))
}

// fail moves key's claim into failed/.
func (s *Spool) fail(key string) error {
	if err := os.Rename(s.path(dirInflight, key), s.path(dirFailed, key)); err != nil {
		return fmt.Errorf("spool fail %s: %w", key, err)
	}
	return syncDir(filepath.Join(s.dir, dirFailed))
}

// recover releases every claim left in inflight/ by a drainer that died.
// Only the holder of the drain lock calls it.
func (s *Spool) recoverClaims() (int, error) {
	keys, err := s.list(dirInflight)
	if err != nil {
		return 0, err
	}
	for _, k := range keys {
		if err := s.release(k); err != nil {
			return 0, err
		}
	}
	// Temporary files of writers that died before their rename.
	tmps, _ := os.ReadDir(filepath.Join(s.dir, dirTmp))
	for _, e := range tmps {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Hour {
			os.Remove(filepath.Join(s.dir, dirTmp, e.Name()))
		}
	}
	return len(keys), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
