//go:build e2e

package consolee2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/voxplatform/vox/api"
	"github.com/voxplatform/vox/api/auth"
	"github.com/voxplatform/vox/api/config"
	"github.com/voxplatform/vox/deploy"
	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/internal/testenv"
	"github.com/voxplatform/vox/internal/testlivekit"
	"github.com/voxplatform/vox/internal/testminio"
	"github.com/voxplatform/vox/internal/testmongo"
	"github.com/voxplatform/vox/internal/testnginx"
	"github.com/voxplatform/vox/internal/testredis"
	"github.com/voxplatform/vox/store"
	"github.com/voxplatform/vox/svcauth"
	"github.com/voxplatform/vox/twilio"
	"github.com/voxplatform/vox/upstream"
)

const (
	serviceSecret = "console-e2e-service-secret-0123456789"
	ownerEmail    = "owner@console.test"
	ownerPassword = "owner-password-1"
	viewerEmail   = "viewer@console.test"
	viewerPass    = "viewer-password-1"
)

// TestConsoleE2E starts the stack and runs node frontend/e2e/run.mjs
// against it; the test fails when the script does.
func TestConsoleE2E(t *testing.T) {
	chromium := testenv.Require(t, "chromium", "apt-get install -y chromium (scripts/deps.sh)")
	node := testenv.Require(t, "node", "apt-get install -y nodejs npm")
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dist := filepath.Join(root, "frontend", "dist")
	if _, err := os.Stat(filepath.Join(dist, "index.html")); err != nil {
		t.Fatalf("no Console build in %s: run make console-build first", dist)
	}

	// The stores.
	mongoURI := testmongo.Start(t)
	redisURL := testredis.Start(t)
	mi := testminio.Start(t)
	mc, err := minio.New(mi.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(testminio.AccessKey, testminio.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.MakeBucket(context.Background(), "recordings", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}

	// LiveKit: the widget route's test calls join its rooms (the browser
	// as the caller, a fleet worker as the agent).
	lk := testlivekit.Start(t, testlivekit.Options{})

	// voxbridge.
	env := map[string]string{
		"MONGODB_URI": mongoURI, "MONGODB_DATABASE": "console_e2e", "REDIS_URL": redisURL,
		"JWT_SECRET": "console-e2e-jwt-secret-0123456789abcdef", "VOX_SERVICE_SECRET": serviceSecret,
		"BCRYPT_COST": "4", "FLEET_POLL_INTERVAL": "300ms", "FLEET_POLL_TIMEOUT": "1s",
		"FLEET_ALLOWED_NETS": "127.0.0.0/8", "LOGIN_MAX_PER_ADDRESS": "10000",
		// The tests sign one user in from many browser contexts within
		// seconds; voxbridge frees a closed stream's slot only at its next
		// heartbeat.
		"EVENTS_MAX_PER_USER": "50",
		"MINIO_ENDPOINT":      mi.Endpoint, "MINIO_ACCESS_KEY": testminio.AccessKey, "MINIO_SECRET_KEY": testminio.SecretKey,
		"LIVEKIT_URL": lk.URL, "LIVEKIT_API_KEY": lk.Key, "LIVEKIT_API_SECRET": lk.Secret,
	}
	cfg, err := config.Load(func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ShutdownTimeout = 5 * time.Second
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("CONSOLE_E2E_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
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
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = srv.Serve(ctx, ln) }()
	go func() { defer wg.Done(); _ = srv.Poller().Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait(); srv.Close() })
	ictx, icancel := context.WithTimeout(ctx, 60*time.Second)
	defer icancel()
	if err := srv.EnsureIndexes(ictx); err != nil {
		t.Fatal(err)
	}
	apiBase := "http://" + ln.Addr().String()

	// nginx serving the built Console with the shipped site.
	n := testnginx.Start(t, testnginx.Options{Workers: 1, Site: site(t, root, ln.Addr().String(), dist)})
	base := "http://" + n.Addr

	// An organisation: its owner, a viewer, and the fleet host.
	hash, err := auth.HashPassword(ownerPassword, 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Store().Bootstrap(ctx, "Console Org", store.User{Email: ownerEmail, PasswordHash: hash, Name: "Olive Owner"}); err != nil {
		t.Fatal(err)
	}
	owner := login(t, apiBase, ownerEmail, ownerPassword)
	call(t, "POST", apiBase+"/api/v1/users", owner, map[string]any{"email": viewerEmail, "password": viewerPass, "name": "Vic Viewer", "role": "viewer"}, 201)
	// A real voxfleet with two workers behind the shipped fleet site: the
	// organisation's fleet host, which the Backend asks for widget calls.
	fleet := newFleetHost(t)
	var reg struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(call(t, "POST", apiBase+"/api/v1/fleets", owner, map[string]any{"name": "fleet-1", "url": fleet.url}, 201), &reg); err != nil {
		t.Fatal(err)
	}
	fleet.start(t, root, reg.ID, apiBase, lk)

	// The browser script asks for test calls here.
	calls := &callDriver{t: t, fleet: fleet, api: apiBase, mc: mc, open: map[string]*twilio.Client{}}
	cln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	csrv := &http.Server{Handler: calls.handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = csrv.Serve(cln) }()
	t.Cleanup(func() { _ = csrv.Close(); calls.closeAll() })

	// The browser's fake microphone says a sentence, then pauses (and
	// loops): the agent hears it and plays it back once the caller pauses.
	// The file is written at 48 kHz, the rate Chromium captures at.
	mic := filepath.Join(t.TempDir(), "mic.wav")
	speech := testlivekit.Speech(t, "Hello, a table for two, please.")
	if err := os.WriteFile(mic, wav(48000, upsample(append(speech, make([]int16, 8000)...), 6)), 0o644); err != nil {
		t.Fatal(err)
	}

	artifacts := filepath.Join(root, "frontend", "e2e", "artifacts")
	script := exec.Command(node, filepath.Join(root, "frontend", "e2e", "run.mjs"))
	script.Dir = filepath.Join(root, "frontend")
	script.Env = append(os.Environ(),
		"BASE_URL="+base, "CONTROL_URL=http://"+cln.Addr().String(), "CHROMIUM="+chromium, "ARTIFACTS="+artifacts, "FAKE_MIC="+mic,
		"OWNER_EMAIL="+ownerEmail, "OWNER_PASSWORD="+ownerPassword, "VIEWER_EMAIL="+viewerEmail, "VIEWER_PASSWORD="+viewerPass)
	script.Stdout, script.Stderr = os.Stdout, os.Stderr
	start := time.Now()
	if err := script.Run(); err != nil {
		t.Fatalf("browser tests failed: %v (screenshots in %s)", err, artifacts)
	}
	t.Logf("browser tests passed in %s; screenshots in %s", time.Since(start).Round(time.Second), artifacts)
}

// site renders deploy/nginx/voxbridge.conf for the test: plain HTTP on the
// test's port, voxbridge at apiAddr, the Console from root, logs in the prefix.
func site(t *testing.T, repo, apiAddr, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, "deploy", "nginx", "voxbridge.conf"))
	if err != nil {
		t.Fatal(err)
	}
	s := regexp.MustCompile(`(?s)server \{\s*listen 80;.*?\n\}\n`).ReplaceAllString(string(b), "")
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
	// The production nginx.conf includes the MIME types (Debian's does); the
	// test's own main configuration does not, and browsers run module
	// scripts only when served as JavaScript.
	return "include /etc/nginx/mime.types;\n" + regexp.MustCompile(`(?m)^\s*ssl_.*;\n`).ReplaceAllString(s, "")
}

// fleetHost is a voxfleet host as production runs it: the daemon and its
// workers behind nginx with deploy/nginx/voxfleet.conf.
type fleetHost struct {
	url, dir, id string
	daemon       string // the daemon's own listener
	nginx        *testnginx.Nginx
	upstream     string
}

// newFleetHost starts the host's nginx (its URL is known before the daemon
// runs, so the Backend can register it and name its fleet id).
func newFleetHost(t *testing.T) *fleetHost {
	t.Helper()
	dir := testnginx.ShortTempDir(t)
	f := &fleetHost{dir: dir, daemon: freeAddr(t), upstream: filepath.Join(dir, "upstream.conf")}
	// nginx needs the include to exist before the daemon renders it.
	if err := os.WriteFile(f.upstream, upstream.Render(upstream.Params{}), 0o644); err != nil {
		t.Fatal(err)
	}
	site, err := deploy.LoopbackFleetSite(deploy.Loopback{Listen: "{{.Addr}}", LogDir: "{{.Prefix}}", UpstreamFile: f.upstream, Daemon: f.daemon})
	if err != nil {
		t.Fatal(err)
	}
	f.nginx = testnginx.Start(t, testnginx.Options{Workers: 1, Site: site})
	f.url = "http://" + f.nginx.Addr
	return f
}

// start builds and runs `voxfleet run --workers 2` as fleet id, with the
// Backend at api (agent configurations, call records) and LiveKit lk.
func (f *fleetHost) start(t *testing.T, repo, id, api string, lk *testlivekit.Server) {
	t.Helper()
	f.id = id
	bin := filepath.Join(t.TempDir(), "voxfleet")
	build := exec.Command("go", "build", "-o", bin, "./cmd/voxfleet")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build voxfleet: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "run", "--workers", "2", "--socket-dir", f.dir, "--state-file", filepath.Join(f.dir, "state.json"),
		"--upstream-file", f.upstream, "--nginx-test", f.nginx.TestCmd(), "--nginx-reload", f.nginx.ReloadCmd(),
		"--listen", f.daemon, "--log-level", "warn", "--worker-log-level", "warn")
	cmd.Env = append(os.Environ(), "VOX_SERVICE_SECRET="+serviceSecret, "VOXFLEET_FLEET_ID="+id,
		"VOXFLEET_BACKEND_URL="+api, "VOXFLEET_FLEET_URL="+f.url, "VOXFLEET_SPOOL_DIR="+filepath.Join(f.dir, "spool"),
		"VOXFLEET_LIVEKIT_URL="+lk.URL, "VOXFLEET_LIVEKIT_API_KEY="+lk.Key, "VOXFLEET_LIVEKIT_API_SECRET="+lk.Secret)
	if os.Getenv("CONSOLE_E2E_LOG") != "" {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func login(t *testing.T, base, email, password string) string {
	t.Helper()
	var pair struct {
		AccessToken string `json:"access_token"`
	}
	b := call(t, "POST", base+"/api/v1/auth/login", "", map[string]string{"email": email, "password": password}, 200)
	if err := json.Unmarshal(b, &pair); err != nil {
		t.Fatal(err)
	}
	return pair.AccessToken
}

// call sends a JSON request and fails the test unless the status is want.
func call(t testing.TB, method, url, token string, body any, want int) []byte {
	t.Helper()
	b, status, err := send(method, url, token, body)
	if err != nil || status != want {
		t.Fatalf("%s %s: %d %v %s (want %d)", method, url, status, err, b, want)
	}
	return b
}

func send(method, url, token string, body any) ([]byte, int, error) {
	j, err := json.Marshal(body)
	if err != nil {
		return nil, 0, err
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(j))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return b, res.StatusCode, err
}

// callDriver places test calls on the fleet's workers for the browser
// script, and writes their call records as the Backend's runtime API
// receives them.
type callDriver struct {
	t     *testing.T
	fleet *fleetHost
	api   string
	mc    *minio.Client

	mu   sync.Mutex // guards open
	open map[string]*twilio.Client
}

func (d *callDriver) service() string {
	tok, err := svcauth.Sign([]byte(serviceSecret), svcauth.AudienceRuntime, "console-e2e", time.Minute)
	if err != nil {
		panic(err)
	}
	return tok
}

func (d *callDriver) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /call", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			AgentID    string `json:"agent_id"`
			CampaignID string `json:"campaign_id"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		id, err := d.place(r.Context(), in.AgentID, in.CampaignID)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"call_id": id})
	})
	mux.HandleFunc("POST /call/{id}/end", func(w http.ResponseWriter, r *http.Request) {
		transcript, err := d.end(r.Context(), r.PathValue("id"))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]bool{"transcript": transcript})
	})
	return mux
}

// place calls a ready worker over its socket, as a carrier would, and
// records the call as in progress.
func (d *callDriver) place(ctx context.Context, agentID, campaignID string) (string, error) {
	res, err := http.Get(d.fleet.url + "/health/fleet")
	if err != nil {
		return "", err
	}
	var f fleetapi.Fleet
	err = json.NewDecoder(res.Body).Decode(&f)
	res.Body.Close()
	if err != nil {
		return "", err
	}
	idx := 0
	for _, w := range f.Workers {
		if w.State == fleetapi.SlotReady {
			idx = w.Index
			break
		}
	}
	if idx == 0 {
		return "", fmt.Errorf("no ready worker")
	}
	tok, err := svcauth.Sign([]byte(serviceSecret), svcauth.FleetAudience(d.fleet.id), "console-e2e", 5*time.Minute)
	if err != nil {
		return "", err
	}
	cl, _, err := twilio.Dial(ctx, twilio.ClientConfig{URL: "ws://worker/ws/twilio", Token: tok,
		SocketPath: filepath.Join(d.fleet.dir, fmt.Sprintf("worker-%d.sock", idx))})
	if err != nil {
		return "", fmt.Errorf("dial worker %d: %w", idx, err)
	}
	if err := cl.Start(); err != nil {
		cl.Close()
		return "", err
	}
	id := cl.CallSID()
	d.mu.Lock()
	d.open[id] = cl
	d.mu.Unlock()
	now := time.Now().UTC()
	rec := map[string]any{
		"agent_id": agentID, "status": "in-progress", "direction": "outbound", "from": "+442071838750", "to": "+442071838751",
		"fleet_url": d.fleet.url, "started_at": now, "answered_at": now}
	if campaignID != "" {
		rec["campaign_id"] = campaignID
	}
	_, status, err := send("PUT", d.api+"/runtime/calls/"+id, d.service(), rec)
	if err != nil || status != 201 {
		return "", fmt.Errorf("record call %s: %d %v", id, status, err)
	}
	return id, nil
}

// end hangs up and records the call as completed, with a recording and,
// when the Backend takes them, a transcript with a turn's latency and
// extracted fields (transcript reports whether it did).
func (d *callDriver) end(ctx context.Context, id string) (transcript bool, err error) {
	d.mu.Lock()
	cl := d.open[id]
	delete(d.open, id)
	d.mu.Unlock()
	if cl == nil {
		return false, fmt.Errorf("no open call %s", id)
	}
	_ = cl.Stop()
	cl.Close()
	silence := wav(8000, make([]int16, 8000)) // a second
	key := "recordings/e2e/" + id + ".wav"
	if _, err := d.mc.PutObject(ctx, "recordings", key, bytes.NewReader(silence), int64(len(silence)), minio.PutObjectOptions{ContentType: "audio/wav"}); err != nil {
		return false, err
	}
	now := time.Now().UTC()
	rec := map[string]any{"status": "completed", "ended_at": now, "duration_seconds": 4.2, "recording_key": key}
	full := map[string]any{
		"transcript": []map[string]any{
			{"seq": 0, "speaker": "agent", "text": "Hello, you are through to Vox reception.", "at": now.Add(-4 * time.Second),
				"latency": map[string]int{"response_ms": 420, "tts_ms": 180}},
			{"seq": 1, "speaker": "caller", "text": "I would like to renew my contract.", "at": now.Add(-2 * time.Second)},
		},
		"fields": map[string]string{"intent": "renewal"},
	}
	for k, v := range rec {
		full[k] = v
	}
	_, status, err := send("PUT", d.api+"/runtime/calls/"+id, d.service(), full)
	if err == nil && status == 200 {
		return true, nil
	}
	// A Backend without transcripts refuses the unknown fields: the record
	// without them.
	_, status, err = send("PUT", d.api+"/runtime/calls/"+id, d.service(), rec)
	if err != nil || status != 200 {
		return false, fmt.Errorf("record end of %s: %d %v", id, status, err)
	}
	return false, nil
}

func (d *callDriver) closeAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, cl := range d.open {
		cl.Close()
	}
}

// wav is a mono 16-bit WAV of pcm at rate.
func wav(rate int, pcm []int16) []byte {
	n := 2 * len(pcm)
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(36+n))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(rate), uint32(2 * rate), uint16(2), uint16(16)} {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, uint32(n))
	_ = binary.Write(&b, binary.LittleEndian, pcm)
	return b.Bytes()
}

// upsample raises pcm's rate k times by linear interpolation.
func upsample(pcm []int16, k int) []int16 {
	out := make([]int16, 0, k*len(pcm))
	for i, v := range pcm {
		next := v
		if i+1 < len(pcm) {
			next = pcm[i+1]
		}
		for j := range k {
			out = append(out, int16(int(v)+(int(next)-int(v))*j/k))
		}
	}
	return out
}
