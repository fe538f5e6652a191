package supervisor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/voxplatform/vox/control"
)

// A release directory (Config.ReleaseDir) keeps every release the daemon
// re-executed into as an immutable file, voxfleet-VERSION-HASH, and a
// symlink, CurrentRelease, to the last good one: the release whose workers
// all came up after an upgrade. The unit starts whatever it points to, so
// `systemctl restart voxfleet` after a failed upgrade runs the release that
// worked, not the one just installed.

// CurrentRelease is the name of the last-good symlink in the release directory.
const CurrentRelease = "current"

// RehearseFlag makes `voxfleet run` check that it can start with the given
// configuration, and exit 0, without binding or starting anything.
const RehearseFlag = "--rehearse"

// rehearseTimeout bounds a candidate's rehearsal.
const rehearseTimeout = 20 * time.Second

// stageRelease copies the binary at src into dir as voxfleet-VERSION-HASH
// (the hash of its content, so a rebuilt release with the same version
// never replaces a file the last-good link points to) and returns its path.
func stageRelease(dir, src, version string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("release dir: %w", err)
	}
	f, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("stage %s: %w", src, err)
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return "", fmt.Errorf("stage %s: %w", src, err)
	}
	name := fmt.Sprintf("voxfleet-%s-%s", sanitize(version), hex.EncodeToString(h.Sum(nil))[:12])
	dst := filepath.Join(dir, name)
	if _, err := os.Stat(dst); err == nil {
		return dst, nil // the same content is already kept
	}
	if err := copyFile(src, dst); err != nil {
		return "", fmt.Errorf("stage %s as %s: %w", src, dst, err)
	}
	return dst, nil
}

func sanitize(v string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_', r == '+':
			return r
		}
		return '_'
	}, v)
}

// recordGood points dir/current at release, atomically.
func recordGood(dir, release string) error {
	link := filepath.Join(dir, CurrentRelease)
	tmp := link + ".new"
	os.Remove(tmp)
	if err := os.Symlink(filepath.Base(release), tmp); err != nil {
		return fmt.Errorf("record last good release: %w", err)
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("record last good release: %w", err)
	}
	return nil
}

// lastGood is the release dir/current points to, or "" when there is none.
func lastGood(dir string) string {
	p, err := filepath.EvalSymlinks(filepath.Join(dir, CurrentRelease))
	if err != nil {
		return ""
	}
	return p
}

// ensureLastGood records the running binary as the last good release when
// the release directory has none yet (the first start on a host).
func (s *Supervisor) ensureLastGood() {
	dir := s.cfg.ReleaseDir
	if dir == "" || lastGood(dir) != "" {
		return
	}
	self, err := os.Executable()
	if err == nil {
		self, err = stageRelease(dir, self, s.version)
	}
	if err == nil {
		err = recordGood(dir, self)
	}
	if err != nil {
		s.log.Error("cannot record the running release as the last good one", "release_dir", dir, "err", err)
		return
	}
	s.log.Info("running release recorded as the last good one", "release", self, "link", filepath.Join(dir, CurrentRelease))
}

// rehearsalError is a candidate release that cannot start with this host's
// configuration; Output is what it said.
type rehearsalError struct {
	Binary string
	Err    error
	Output string
}

func (e *rehearsalError) Error() string {
	msg := fmt.Sprintf("%s cannot start with this host's configuration (%v)", e.Binary, e.Err)
	if e.Output != "" {
		msg += ": " + e.Output
	}
	return msg
}

func (e *rehearsalError) Unwrap() error { return e.Err }

// rehearse runs the candidate as the daemon would run after the re-exec —
// same arguments, same environment — with RehearseFlag, so that a release
// that cannot start (a missing setting, a flag it does not know, a crash at
// start) is refused while the running daemon still serves.
func rehearse(ctx context.Context, binary string) error {
	ctx, cancel := context.WithTimeout(ctx, rehearseTimeout)
	defer cancel()
	args := []string{"run"}
	if len(os.Args) > 1 {
		args = append([]string{os.Args[1], RehearseFlag}, os.Args[2:]...)
	}
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = workerEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("no answer within %s", rehearseTimeout)
	}
	return &rehearsalError{Binary: binary, Err: err, Output: lastLines(out.String(), 6)}
}

// lastLines keeps the last n non-empty lines of s, joined by "; ".
func lastLines(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}

// prepareCandidate readies the release at exePath for the re-exec: kept in
// the release directory when there is one, then rehearsed. It returns the
// path to re-execute. Not on the loop: it runs the candidate.
func (s *Supervisor) prepareCandidate(to string, out chan<- control.Progress) (string, error) {
	target := s.exePath
	if s.cfg.ReleaseDir != "" {
		kept, err := stageRelease(s.cfg.ReleaseDir, s.exePath, to)
		if err != nil {
			return "", err
		}
		target = kept
		out <- control.Progress{Step: "keep", Message: fmt.Sprintf("release kept as %s; the last good release stays %s until every worker runs %s",
			kept, lastGood(s.cfg.ReleaseDir), to)}
	}
	out <- control.Progress{Step: "rehearse", Message: fmt.Sprintf("%s %s: starting it with this host's configuration first", target, RehearseFlag)}
	start := time.Now()
	if err := rehearse(context.Background(), target); err != nil {
		if target != s.exePath && target != lastGood(s.cfg.ReleaseDir) {
			os.Remove(target) // a refused release is not kept
		}
		return "", err
	}
	out <- control.Progress{Step: "rehearse", Message: fmt.Sprintf("%s starts with this host's configuration (%s)", to,
		time.Since(start).Round(time.Millisecond))}
	return target, nil
}

// upgradeHeld records the running release as the last good one once every
// worker came up on it. Loop only.
func (s *Supervisor) upgradeHeld(version string) {
	if s.cfg.ReleaseDir == "" {
		return
	}
	before := lastGood(s.cfg.ReleaseDir)
	self, err := os.Executable()
	if err == nil {
		self, err = stageRelease(s.cfg.ReleaseDir, self, version)
	}
	if err == nil {
		err = recordGood(s.cfg.ReleaseDir, self)
	}
	if err == nil {
		pruneReleases(s.cfg.ReleaseDir, self, before)
	}
	if err != nil {
		s.log.Error("upgrade held but the last good release was not recorded; a restart runs the previous one",
			"release_dir", s.cfg.ReleaseDir, "err", err)
		return
	}
	s.log.Info("last good release recorded", "version", version, "release", self)
}

// pruneReleases removes every kept release but keep (a running process
// keeps its image; only the name goes).
func pruneReleases(dir string, keep ...string) {
	old, _ := filepath.Glob(filepath.Join(dir, "voxfleet-*"))
	for _, p := range old {
		if !slices.Contains(keep, p) {
			os.Remove(p)
		}
	}
}
