package supervisor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// persisted is what survives a daemon restart.
type persisted struct {
	Desired int `json:"desired"`
}

// stateFile is the state file as read, before it is checked: Desired is a
// pointer so that a missing count is told apart from 0.
type stateFile struct {
	Desired *int `json:"desired"`
}

// errNoState is returned by loadState when there is no state file yet.
var errNoState = errors.New("no state file")

// StateError is a state file that cannot be used.
type StateError struct {
	Path string
	Err  error
}

func (e *StateError) Error() string { return fmt.Sprintf("state file %q: %v", e.Path, e.Err) }

func (e *StateError) Unwrap() error { return e.Err }

// parseState reads a state file's content. A desired count above limit is
// clamped to it; clamped reports the count the file asked for. Anything
// else unusable — empty, not JSON, trailing data, no count, a negative
// count — is an error.
func parseState(b []byte, limit int) (p persisted, clamped int, err error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return p, 0, errors.New("empty")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var sf stateFile
	if err := dec.Decode(&sf); err != nil {
		return p, 0, fmt.Errorf("not valid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return p, 0, errors.New("unexpected data after the JSON object")
	}
	switch {
	case sf.Desired == nil:
		return p, 0, errors.New(`no "desired" worker count`)
	case *sf.Desired < 0:
		return p, 0, fmt.Errorf("negative desired worker count %d", *sf.Desired)
	case *sf.Desired > limit:
		return persisted{Desired: limit}, *sf.Desired, nil
	}
	return persisted{Desired: *sf.Desired}, 0, nil
}

// loadState reads the state file: errNoState when there is none, a
// *StateError when it is unusable.
func loadState(path string, limit int) (p persisted, clamped int, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return p, 0, errNoState
	}
	if err != nil {
		return p, 0, fmt.Errorf("read state file: %w", err)
	}
	p, clamped, err = parseState(b, limit)
	if err != nil {
		return p, 0, &StateError{Path: path, Err: err}
	}
	return p, clamped, nil
}

// moveAside renames an unusable state file to PATH.bad-TIMESTAMP, keeping
// it for the operator, and returns the new name.
func moveAside(path string, now time.Time) (string, error) {
	bad := path + ".bad-" + now.UTC().Format("20060102T150405Z")
	if err := os.Rename(path, bad); err != nil {
		return "", fmt.Errorf("move bad state file aside: %w", err)
	}
	return bad, nil
}

// saveState writes p atomically: temp file, fsync, rename, fsync of the directory.
func saveState(path string, p persisted) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	b, _ := json.Marshal(p)
	f, err := os.CreateTemp(dir, ".state-*.json")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write state: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync state: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace state file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
