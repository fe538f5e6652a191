package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voxplatform/vox/api"
	"github.com/voxplatform/vox/api/auth"
	"github.com/voxplatform/vox/api/config"
	"github.com/voxplatform/vox/internal/testenv"
	"github.com/voxplatform/vox/internal/testmongo"
	"github.com/voxplatform/vox/internal/testredis"
	"github.com/voxplatform/vox/store"
	"github.com/voxplatform/vox/svcauth"
)

// Shared servers for the package: one FerretDB, one redis-server. Each test
// server uses a database of its own.
var shared struct {
	once  sync.Once
	err   error
	dir   string
	mongo *testmongo.Server
	redis *testredis.Server
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.mongo != nil {
		shared.mongo.Stop()
	}
	if shared.redis != nil {
		shared.redis.Stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

func sharedServers(t *testing.T) (mongoURI, redisURL string) {
	t.Helper()
	testenv.Require(t, "redis-server", testredis.Install)
	testenv.Require(t, "go", "install Go 1.26")
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "voxbridge-test-")
		if err != nil {
			shared.err = err
			return
		}
		shared.dir = dir
		bin, err := testmongo.Binary()
		if err != nil {
			shared.err = err
			return
		}
		if shared.mongo, err = testmongo.Launch(bin, dir); err != nil {
			shared.err = err
			return
		}
		rbin, _ := exec.LookPath("redis-server")
		shared.redis, shared.err = testredis.Launch(rbin, dir)
	})
	if shared.err != nil {
		t.Fatalf("start shared servers: %v", shared.err)
	}
	return shared.mongo.URI(), shared.redis.URL()
}

const serviceSecret = "test-service-secret-0123456789"

var dbNameRE = regexp.MustCompile(`[^A-Za-z0-9]+`)

// testConfig is a configuration for a test server on mongoURI/redisURL.
func testConfig(t *testing.T, mongoURI, redisURL string) *config.Config {
	env := map[string]string{
		"MONGODB_URI":         mongoURI,
		"REDIS_URL":           redisURL,
		"JWT_SECRET":          "test-jwt-secret-0123456789abcdefghijkl",
		"VOX_SERVICE_SECRET":  serviceSecret,
		"BCRYPT_COST":         "4",
		"FLEET_POLL_INTERVAL": "100ms",
		"FLEET_POLL_TIMEOUT":  "500ms",
		// Short, so that tests of refresh-token reuse wait little for it.
		"REFRESH_GRACE": "500ms",
		// Every test logs in from 127.0.0.1 against the shared Redis.
		"LOGIN_MAX_PER_ADDRESS": "100000",
		// Test fleet hosts listen on loopback, which organisations' fleets
		// may reach only when allowed; the address policy's own tests
		// clear this.
		"FLEET_ALLOWED_NETS": "127.0.0.0/8",
	}
	cfg, err := config.Load(func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	name := dbNameRE.ReplaceAllString(t.Name(), "_")
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	cfg.MongoDatabase = fmt.Sprintf("t%d_%s", time.Now().UnixNano()%1e9, name)
	// Above fasthttp's 5 s grace for a connection that never sent a request
	// (the client may dial one it then does not use).
	cfg.ShutdownTimeout = 10 * time.Second
	return cfg
}

// harness is a running voxbridge for one test.
type harness struct {
	t    *testing.T
	srv  *api.Server
	cfg  *config.Config
	base string
}

// start runs a voxbridge with cfg until the test ends; with poll, its fleet
// poller runs too.
func start(t *testing.T, cfg *config.Config, poll bool) *harness {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("VOXBRIDGE_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := api.New(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	pdone := make(chan struct{})
	if poll {
		go func() { _ = srv.Poller().Run(ctx); close(pdone) }()
	} else {
		close(pdone)
	}
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		<-pdone
		srv.Close()
	})
	h := &harness{t: t, srv: srv, cfg: cfg, base: "http://" + ln.Addr().String()}
	ictx, icancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer icancel()
	if err := srv.EnsureIndexes(ictx); err != nil {
		t.Fatal(err)
	}
	return h
}

// newHarness starts a voxbridge on the shared servers.
func newHarness(t *testing.T) *harness {
	t.Helper()
	m, r := sharedServers(t)
	return start(t, testConfig(t, m, r), false)
}

// resp is an HTTP answer.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as an object.
func (r resp) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.Body, err)
	}
	return m
}

// ErrorMsg checks that the body is exactly {"error": "..."} and returns it.
func (r resp) ErrorMsg(t *testing.T) string {
	t.Helper()
	m := r.JSON(t)
	msg, ok := m["error"].(string)
	if !ok || msg == "" || len(m) != 1 {
		t.Fatalf("error body = %s, want exactly {\"error\": \"...\"}", r.Body)
	}
	return msg
}

// req sends a request; body may be nil, []byte/string (sent as is with
// ctype) or a value to encode as JSON.
func (h *harness) req(method, path, token string, body any, ctype ...string) resp {
	h.t.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	if len(ctype) > 0 {
		ct = ctype[0]
	}
	r, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if rd != nil {
		r.Header.Set("Content-Type", ct)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// must sends a request and fails the test unless the status is want.
func (h *harness) must(want int, method, path, token string, body any, ctype ...string) map[string]any {
	h.t.Helper()
	r := h.req(method, path, token, body, ctype...)
	if r.Status != want {
		h.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.Status, want, r.Body)
	}
	if len(r.Body) == 0 {
		return nil
	}
	return r.JSON(h.t)
}

// org bootstraps an organisation and returns its owner's access token and
// the org id.
func (h *harness) org(name string) (token, orgID string) {
	h.t.Helper()
	email := strings.ToLower(dbNameRE.ReplaceAllString(name, "")) + "-owner@example.com"
	hash, err := auth.HashPassword("owner-password-1", 4)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.srv.Store().Bootstrap(context.Background(), name, store.User{Email: email, PasswordHash: hash, Name: "Owner"}); err != nil {
		h.t.Fatal(err)
	}
	m := h.must(200, "POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": "owner-password-1"})
	token = m["access_token"].(string)
	me := h.must(200, "GET", "/api/v1/auth/me", token, nil)
	return token, me["org_id"].(string)
}

// service returns a valid service token for /runtime.
func (h *harness) service() string {
	tok, err := svcauth.Sign([]byte(serviceSecret), svcauth.AudienceRuntime, "voxfleet", time.Minute)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// eventually polls f until it returns nil or the deadline passes.
func eventually(t *testing.T, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not true after %s: %v", d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sample bodies.
func agentBody(name string) map[string]any {
	return map[string]any{"name": name, "language": "en-GB", "voice": "alloy", "greeting": "Hello",
		"prompt": "Be brief.", "recording": true, "max_call_seconds": 600,
		"script": []map[string]any{{"id": "start", "say": "Press 1 or say your name", "dtmf": map[string]string{"1": "end"}, "field": "name",
			"routes": []map[string]any{{"words": []string{"goodbye", "no thanks"}, "next": "end"}}}, {"id": "end", "say": "Bye", "hangup": true}}}
}

func campaignBody(agentID string) map[string]any {
	return map[string]any{"name": "Spring", "agent_id": agentID, "trunk_id": "ST_trunk1",
		"window":       map[string]any{"start": "09:00", "end": "17:30", "timezone": "Europe/London", "days": []int{1, 2, 3, 4, 5}},
		"max_attempts": 3, "retry_delay_seconds": 600, "priority": 10}
}

// reqHeader is req with extra headers and a JSON body.
func (h *harness) reqHeader(method, path string, hdr map[string]string, body any) resp {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	r, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{Status: res.StatusCode, Header: res.Header, Body: b}
}
