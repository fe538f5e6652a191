package api_test

import (
	"bytes"
	"io"
	"net/http"
	"runtime"
	"testing"

	"github.com/voxplatform/vox/internal/gzipbomb"
	"github.com/voxplatform/vox/plainbody"
)

// allocated is the bytes this process has allocated so far: cumulative, so
// an inflation shows even once its buffer is freed.
func allocated() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// TestCompressedBodyRefused sends a gzip body that inflates to 256 MiB (a
// quarter of a MiB on the wire, well under the body limit) to a public and
// an authenticated route: each answers 415 without inflating it.
func TestCompressedBodyRefused(t *testing.T) {
	h := newHarness(t)
	token, _ := h.org("Bomb Org")
	const inflated = 256 << 20
	bomb := gzipbomb.Make(inflated)
	for _, tc := range []struct {
		name, method, path, token, coding string
	}{
		{"login gzip", "POST", "/api/v1/auth/login", "", "gzip"},
		{"login deflate after identity", "POST", "/api/v1/auth/login", "", "identity, deflate"},
		{"agents br", "POST", "/api/v1/agents", token, "br"},
		{"runtime call gzip", "PUT", "/runtime/calls/c-1", h.service(), "GZIP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := allocated()
			r, err := http.NewRequest(tc.method, h.base+tc.path, bytes.NewReader(bomb))
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Content-Encoding", tc.coding)
			if tc.token != "" {
				r.Header.Set("Authorization", "Bearer "+tc.token)
			}
			res, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			got := resp{Status: res.StatusCode, Header: res.Header, Body: b}
			if got.Status != http.StatusUnsupportedMediaType {
				t.Fatalf("%s %s with Content-Encoding %s = %d %s, want 415", tc.method, tc.path, tc.coding, got.Status, b)
			}
			if msg := got.ErrorMsg(t); msg != plainbody.Message {
				t.Fatalf("error %q, want %q", msg, plainbody.Message)
			}
			// The client and server share this process: everything either
			// allocated for the request counts, and it must be far below
			// the inflated size.
			if grew := allocated() - before; grew > 32<<20 {
				t.Fatalf("the request allocated %d MiB, want under 32 MiB (inflated body is %d MiB)", grew>>20, inflated>>20)
			}
		})
	}
	// A plain body still works.
	h.must(http.StatusUnauthorized, "POST", "/api/v1/auth/login", "", map[string]string{"email": "nobody@example.com", "password": "wrong-password"})
}
