package integration

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var voxbridgeBin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "vxbridge")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "voxbridge")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/voxplatform/vox/cmd/voxbridge").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build voxbridge: %v\n%s", err, out)
	}
	return bin, nil
})

// startBridge runs the real voxbridge on mongoURI/redisURL with the fleet
// at fleetURL as a platform fleet, and returns its base URL.
func startBridge(t *testing.T, mongoURI, redisURL, fleetURL string) string {
	t.Helper()
	bin, err := voxbridgeBin()
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	host, port, _ := strings.Cut(addr, ":")
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "MONGODB_URI="+mongoURI, "MONGODB_DATABASE=vox", "REDIS_URL="+redisURL,
		"JWT_SECRET="+strings.Repeat("j", 40), "VOX_SERVICE_SECRET="+secret, "VOXBRIDGE_HOST="+host, "VOXBRIDGE_PORT="+port,
		"FLEET_PLATFORM="+fleetID+"="+fleetURL, "FLEET_POLL_INTERVAL=200ms")
	out := &strings.Builder{}
	var mu sync.Mutex
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			mu.Lock()
			t.Logf("voxbridge output:\n%s", tail(out.String(), 40))
			mu.Unlock()
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("voxbridge not healthy: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
