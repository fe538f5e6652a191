package supervisor

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// errHeld means a socket path is answered by a live process: a worker of an
// earlier daemon that is still finishing its call.
var errHeld = errors.New("socket held by a live process")

// workerPath is the socket path of worker index in dir.
func workerPath(dir string, index int) string {
	return filepath.Join(dir, "worker-"+strconv.Itoa(index)+".sock")
}

// nextPath is where a replacement for index binds before it takes over.
func nextPath(dir string, index int) string {
	return filepath.Join(dir, ".worker-"+strconv.Itoa(index)+".sock.new")
}

// probeSocket dials path: nil when something answers, otherwise the error.
func probeSocket(path string) error {
	c, err := net.DialTimeout("unix", path, 200*time.Millisecond)
	if err != nil {
		return err
	}
	c.Close()
	return nil
}

// isStale reports whether a dial error means nothing serves the path.
func isStale(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT)
}

// listenUnix binds path for a worker, first making sure no live process
// answers there: a refused dial means a stale file, which is removed; an
// answered one is errHeld. The socket is made connectable by gid (when >= 0)
// and by nobody else. The listener does not unlink path on Close: the worker
// inherits it, and the path may already name a successor's socket.
func listenUnix(path string, gid int) (*net.UnixListener, error) {
	if err := probeSocket(path); err == nil {
		return nil, fmt.Errorf("bind %q: %w", path, errHeld)
	} else if !isStale(err) {
		return nil, fmt.Errorf("bind %q: probing existing socket: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket %q: %w", path, err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("bind %q: %w", path, err)
	}
	ln.SetUnlinkOnClose(false)
	if err := setSocketPerms(path, 0o660, gid); err != nil {
		ln.Close()
		os.Remove(path)
		return nil, err
	}
	return ln, nil
}

func setSocketPerms(path string, mode os.FileMode, gid int) error {
	if gid >= 0 {
		if err := os.Chown(path, -1, gid); err != nil {
			return fmt.Errorf("chown %q to gid %d: %w", path, gid, err)
		}
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("chmod %q: %w", path, err)
	}
	return nil
}

// lookupGroup resolves name to a gid; "" means -1 (leave as is).
func lookupGroup(name string) (int, error) {
	if name == "" {
		return -1, nil
	}
	if id, err := strconv.Atoi(name); err == nil {
		return id, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return -1, fmt.Errorf("socket group %q: %w", name, err)
	}
	return strconv.Atoi(g.Gid)
}

// prepareDir creates the socket directory, reachable by gid and nobody else.
func prepareDir(dir string, gid int) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create socket dir %q: %w", dir, err)
	}
	if gid >= 0 {
		if err := os.Chown(dir, -1, gid); err != nil {
			return fmt.Errorf("chown socket dir %q: %w", dir, err)
		}
		return os.Chmod(dir, 0o750)
	}
	return nil
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
