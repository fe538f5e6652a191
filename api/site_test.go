package api_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/voxplatform/vox/internal/testnginx"
	"github.com/voxplatform/vox/internal/testredis"
)

// siteForTest turns deploy/nginx/voxbridge.conf into a site for a test
// nginx: plain HTTP on the test's port instead of the redirect and TLS
// servers, voxbridge at apiAddr, the Console from root, logs in the prefix.
func siteForTest(t *testing.T, apiAddr, root string) string {
	t.Helper()
	b, err := os.ReadFile("../deploy/nginx/voxbridge.conf")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	redirect := regexp.MustCompile(`(?s)server \{\s*listen 80;.*?\n\}\n`)
	if !redirect.MatchString(s) {
		t.Fatal("site has no port 80 server to drop")
	}
	s = redirect.ReplaceAllString(s, "")
	for old, repl := range map[string]string{
		"listen 443 ssl http2;":      "listen {{.Addr}};",
		"server 127.0.0.1:8080;":     "server " + apiAddr + ";",
		"/var/log/nginx/":            "{{.Prefix}}/",
		"root /var/www/vox-console;": "root " + root + ";",
	} {
		if !strings.Contains(s, old) {
			t.Fatalf("site lacks %q", old)
		}
		s = strings.ReplaceAll(s, old, repl)
	}
	return regexp.MustCompile(`(?m)^\s*ssl_.*;\n`).ReplaceAllString(s, "")
}

// TestNginxSite puts the shipped nginx site in front of a voxbridge and
// checks what it is for: the Console's files, the API, event streams that
// are not buffered, the client address voxbridge sees, and JSON errors.
func TestNginxSite(t *testing.T) {
	m, _ := sharedServers(t)
	cfg := testConfig(t, m, testredis.Start(t)) // own Redis: address counters
	cfg.LoginMaxPerAddress = 4                  // the owner's login below, then three failures
	h := start(t, cfg, false)
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "assets"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "index.html"), []byte("<!doctype html><title>Vox Console</title>"), 0o644)
	os.WriteFile(filepath.Join(root, "assets", "app.js"), []byte("console.log(1)"), 0o644)
	os.Chmod(root, 0o755)
	n := testnginx.Start(t, testnginx.Options{Workers: 2, Site: siteForTest(t, strings.TrimPrefix(h.base, "http://"), root)})
	via := &harness{t: t, srv: h.srv, cfg: h.cfg, base: "http://" + n.Addr}

	get := func(path string) (int, http.Header, string) {
		t.Helper()
		res, err := http.Get(via.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header, string(b)
	}
	// The Console, including its client-side routes.
	for _, p := range []string{"/", "/campaigns/123"} {
		if code, _, body := get(p); code != 200 || !strings.Contains(body, "Vox Console") {
			t.Fatalf("GET %s: %d %q", p, code, body)
		}
	}
	if code, hdr, _ := get("/assets/app.js"); code != 200 || !strings.Contains(hdr.Get("Cache-Control"), "immutable") {
		t.Fatalf("asset: %d %v", code, hdr)
	}
	if code, _, _ := get("/assets/missing.js"); code != 404 {
		t.Fatalf("missing asset: %d", code)
	}
	// The API and its public documents; metrics stay private.
	if code, _, body := get("/health"); code != 200 || !strings.Contains(body, `"mongodb":"ok"`) {
		t.Fatalf("health: %d %s", code, body)
	}
	if code, _, body := get("/openapi.json"); code != 200 || !strings.Contains(body, `"openapi"`) {
		t.Fatalf("openapi: %d", code)
	}
	if code, _, _ := get("/metrics"); code != 404 {
		t.Fatalf("metrics exposed: %d", code)
	}
	tok, _ := via.org("Site Org")
	agent := via.must(201, "POST", "/api/v1/agents", tok, agentBody("N"))["id"].(string)
	via.must(200, "GET", "/runtime/agents/"+agent, via.service(), nil)

	// Events arrive through nginx as they happen, not when a buffer fills.
	req, _ := http.NewRequest("GET", via.base+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("events via nginx: %v %v", err, res)
	}
	defer res.Body.Close()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// The response headers came after voxbridge had subscribed: the event
	// below cannot be missed.
	sent := time.Now()
	h.must(201, "PUT", "/runtime/calls/NGX1", h.service(), map[string]any{"agent_id": agent, "status": "ringing"})
	deadline := time.After(3 * time.Second)
	for got := false; !got; {
		select {
		case l := <-lines:
			got = strings.Contains(l, `"id":"NGX1"`)
		case <-deadline:
			t.Fatal("event not delivered through nginx within 3 s")
		}
	}
	t.Logf("event through nginx after %v", time.Since(sent))

	// voxbridge sees the client's address from nginx, not one the client
	// claims: three attempts with different claimed addresses use up the
	// limit of the one real address (with the owner's login, four).
	for i := 0; i < 3; i++ {
		r := via.reqHeader("POST", "/api/v1/auth/login", map[string]string{"X-Real-IP": fmt.Sprintf("10.9.9.%d", i)},
			map[string]string{"email": "nobody@site.test", "password": "wrong-password"})
		if r.Status != 401 {
			t.Fatalf("attempt %d: %d %s", i, r.Status, r.Body)
		}
	}
	if r := via.reqHeader("POST", "/api/v1/auth/login", map[string]string{"X-Real-IP": "10.9.9.99"},
		map[string]string{"email": "nobody@site.test", "password": "wrong-password"}); r.Status != 429 {
		t.Fatalf("spoofed X-Real-IP escaped the address limit: %d", r.Status)
	}

	// Errors nginx answers itself are JSON too.
	big := strings.NewReader(strings.Repeat("x", 5<<20))
	r2, _ := http.NewRequest("POST", via.base+"/api/v1/agents", big)
	r2.Header.Set("Content-Type", "application/json")
	r2.Header.Set("Expect", "100-continue")
	res2, err := http.DefaultClient.Do(r2)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := io.ReadAll(res2.Body)
	res2.Body.Close()
	if res2.StatusCode != 413 {
		t.Fatalf("oversize via nginx: %d %s", res2.StatusCode, b2)
	}
	(resp{Status: 413, Body: b2}).ErrorMsg(t)
}
