package callslot

import (
	"bytes"
	"net/http"
	"runtime"
	"testing"

	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/internal/gzipbomb"
	"github.com/voxplatform/vox/plainbody"
)

// TestCompressedBodyRefused sends each POST route a gzip body under the
// 64 KiB body limit that inflates to 48 MiB: the worker answers 415 without
// inflating it, and the slot stays free.
func TestCompressedBodyRefused(t *testing.T) {
	h := startWorker(t, nil)
	const inflated = 48 << 20
	bomb := gzipbomb.Make(inflated)
	if len(bomb) >= BodyLimit {
		t.Fatalf("bomb is %d bytes, want it under the body limit %d", len(bomb), BodyLimit)
	}
	for _, path := range []string{"/attach", "/livekit/dialout", "/livekit/widget", "/livekit/dispatch"} {
		t.Run(path, func(t *testing.T) {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			before := m.TotalAlloc
			req, err := http.NewRequest(http.MethodPost, h.base+path, bytes.NewReader(bomb))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Content-Encoding", "gzip")
			req.Header.Set("Authorization", "Bearer "+token(t))
			resp, err := h.http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			code, body := decodeResponse(t, resp)
			runtime.ReadMemStats(&m)
			if grew := m.TotalAlloc - before; grew > 16<<20 {
				t.Errorf("the request allocated %d MiB, want under 16 MiB (inflated body is %d MiB)", grew>>20, inflated>>20)
			}
			if code != http.StatusUnsupportedMediaType || body["error"] != plainbody.Message {
				t.Fatalf("POST %s with a gzip body = %d %v, want 415 {\"error\": %q}", path, code, body, plainbody.Message)
			}
		})
	}
	if s := h.health(); s.State != fleetapi.WorkerIdle {
		t.Fatalf("after refused bodies the slot is %q, want idle", s.State)
	}
}
