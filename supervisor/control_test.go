package supervisor

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/voxplatform/vox/control"
	"github.com/voxplatform/vox/fleetapi"
)

// TestControlRefusesBadBodies sends malformed bodies to every control route
// over the real control socket: each is refused with 400 (413 when oversize)
// and a JSON error, and nothing changes.
func TestControlRefusesBadBodies(t *testing.T) {
	dir := t.TempDir()
	h := startDaemon(t, testConfig(t, dir, 2))
	h.waitReady(2)
	cl := fleetapi.Socket(filepath.Join(dir, control.SocketName))
	tests := []struct {
		path, body, want string
		code             int
	}{
		{"/v1/scale", ``, "a JSON body is required", 400},
		{"/v1/scale", `{}`, `"workers" is required`, 400},
		{"/v1/scale", `{"workers":0}garbage`, "unexpected data after", 400},
		{"/v1/scale", `{"workers":0,"yes":true}`, `unknown field "yes"`, 400},
		{"/v1/scale", `{"workers":0}` + strings.Repeat(" ", control.MaxRequestBytes), "body over", 413},
		{"/v1/drain", `{}`, `"index" or "indices" is required`, 400},
		{"/v1/drain", `{"index":1} 1`, "unexpected data after", 400},
		{"/v1/restart", ``, "a JSON body is required", 400},
		{"/v1/restart", `{"indices":[1],"rollin":true}`, `unknown field "rollin"`, 400},
		{"/v1/upgrade", `{"force":true}`, `unknown field "force"`, 400},
		{"/v1/upgrade", ``, "a JSON body is required", 400},
	}
	for _, tt := range tests {
		resp, err := cl.Do(context.Background(), http.MethodPost, tt.path, false,
			http.Header{"Content-Type": {"application/json"}}, strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var eb fleetapi.ErrorBody
		if resp.StatusCode != tt.code || json.Unmarshal(b, &eb) != nil || !strings.Contains(eb.Error, tt.want) {
			t.Errorf("POST %s %.40q: %d %s, want %d with %q", tt.path, tt.body, resp.StatusCode, b, tt.code, tt.want)
		}
	}
	f := h.waitReady(2)
	if f.Desired != 2 || f.Draining != 0 {
		t.Fatalf("a refused request changed the fleet: %+v", f)
	}
}
