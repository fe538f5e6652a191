package testnginx

import (
	"errors"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// ServeUnix serves h on a new unix socket at path, readable by nginx
// workers, until the test ends.
func ServeUnix(t testing.TB, path string, h http.Handler) {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("testnginx: listen %s: %v", path, err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatalf("testnginx: chmod %s: %v", path, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("testnginx: serve %s: %v", path, err)
		}
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
}
