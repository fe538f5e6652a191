package supervisor

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/voxplatform/vox/control"
	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/internal/gzipbomb"
	"github.com/voxplatform/vox/plainbody"
)

// TestCompressedBodyRefused sends coded bodies to the control socket and to
// the HTTP listener: both answer 415 and nothing is inflated (net/http never
// inflates a request body; the daemon refuses them so that every server of
// the fleet answers alike). A valid scale request, gzipped, is not applied.
func TestCompressedBodyRefused(t *testing.T) {
	dir := t.TempDir()
	h := startDaemon(t, testConfig(t, dir, 1))
	h.waitReady(1)

	var scale bytes.Buffer
	zw := gzip.NewWriter(&scale)
	_, _ = zw.Write([]byte(`{"workers": 2}`))
	_ = zw.Close()
	const inflated = 48 << 20
	bomb := gzipbomb.Make(inflated)

	ctl := &http.Client{Transport: fleetapi.NewSocketTransport()}
	ctlURL := fleetapi.SocketURL(filepath.Join(dir, control.SocketName))
	for _, tc := range []struct {
		name   string
		client *http.Client
		method string
		url    string
		body   []byte
	}{
		{"control scale", ctl, "POST", ctlURL + "/v1/scale", scale.Bytes()},
		{"control bomb", ctl, "POST", ctlURL + "/v1/drain", bomb},
		{"http bomb", http.DefaultClient, "GET", h.base + "/health/fleet", bomb},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			before := m.TotalAlloc
			req, err := http.NewRequest(tc.method, tc.url, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Content-Encoding", "gzip")
			resp, err := tc.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			runtime.ReadMemStats(&m)
			if grew := m.TotalAlloc - before; grew > 16<<20 {
				t.Errorf("the request allocated %d MiB, want under 16 MiB", grew>>20)
			}
			var e fleetapi.ErrorBody
			if resp.StatusCode != http.StatusUnsupportedMediaType || json.Unmarshal(b, &e) != nil || e.Error != plainbody.Message {
				t.Fatalf("%s %s with a gzip body = %d %s, want 415 {\"error\": %q}", tc.method, tc.url, resp.StatusCode, b, plainbody.Message)
			}
		})
	}
	if f, _ := h.fleet(); f.Desired != 1 {
		t.Fatalf("desired = %d after a refused gzipped scale request, want 1", f.Desired)
	}
}
