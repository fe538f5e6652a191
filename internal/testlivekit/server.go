package testlivekit

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	protoLogger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/voxplatform/vox/internal/testenv"
	"github.com/voxplatform/vox/internal/testredis"
)

// Install says how to get livekit-server.
const Install = "go install github.com/livekit/livekit-server/cmd/server@v1.9.11, named livekit-server (scripts/deps-livekit.sh)"

// Options configure a Server. The zero value is a server without webhooks.
type Options struct {
	// WebhookURLs receive the server's signed webhooks.
	WebhookURLs []string
	// LogLevel is livekit-server's log level; "" means "warn".
	LogLevel string
}

// Server is one livekit-server process with its own Redis.
type Server struct {
	// URL is the ws:// URL participants join with.
	URL string
	// HTTPURL is the http:// URL of the server API (RoomService, SIP).
	HTTPURL string
	// Key and Secret are the server's only API key pair.
	Key, Secret string
	// Redis is the server's Redis, which also carries its SIP bus.
	Redis *testredis.Server

	dir string
	cmd *exec.Cmd
}

// Start runs livekit-server for the test; it stops when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := Lookup(t)
	QuietSDK()
	rd := testredis.StartServer(t)
	s, err := Launch(bin, t.TempDir(), rd, opts)
	if err != nil {
		t.Fatalf("testlivekit: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Lookup finds livekit-server on PATH or in $(go env GOPATH)/bin, or ends the
// test with the install step.
func Lookup(t testing.TB) string {
	t.Helper()
	if p, err := Find(); err == nil {
		return p
	}
	return testenv.Require(t, "livekit-server", Install)
}

// Find finds livekit-server on PATH or in $(go env GOPATH)/bin.
func Find() (string, error) {
	if p, err := exec.LookPath("livekit-server"); err == nil {
		return p, nil
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, d := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(d, "bin", "livekit-server")
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("livekit-server not found (%s)", Install)
}

// Launch starts livekit-server (path bin) with its config and log in dir,
// using rd as its Redis. The caller must call Stop. It is meant for TestMain
// and benchmarks.
func Launch(bin, dir string, rd *testredis.Server, opts Options) (*Server, error) {
	port, err := freeTCP()
	if err != nil {
		return nil, err
	}
	tcpPort, err := freeTCP()
	if err != nil {
		return nil, err
	}
	udpPort, err := freeUDP()
	if err != nil {
		return nil, err
	}
	s := &Server{
		URL:     fmt.Sprintf("ws://127.0.0.1:%d", port),
		HTTPURL: fmt.Sprintf("http://127.0.0.1:%d", port),
		Key:     "APIvoxtest",
		Secret:  "vox-test-secret-0123456789abcdef0123456789",
		Redis:   rd,
		dir:     dir,
	}
	level := opts.LogLevel
	if level == "" {
		level = "warn"
	}
	cfg := renderConfig(s, port, tcpPort, udpPort, level, opts.WebhookURLs)
	cfgPath := filepath.Join(dir, "livekit.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", cfgPath, err)
	}
	logPath := filepath.Join(dir, "livekit.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", logPath, err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s.cmd = cmd
	if err := s.waitReady(30 * time.Second); err != nil {
		s.Stop()
		tail, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("livekit-server on %s: %w\n%s", s.HTTPURL, err, tail)
	}
	return s, nil
}

// renderConfig is the server's config file: everything on loopback, no
// public STUN lookups, Redis on (the SIP API needs it).
func renderConfig(s *Server, port, tcpPort, udpPort int, level string, webhooks []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "port: %d\nbind_addresses: [127.0.0.1]\n", port)
	fmt.Fprintf(&b, "rtc:\n  tcp_port: %d\n  udp_port: %d\n", tcpPort, udpPort)
	b.WriteString("  node_ip: 127.0.0.1\n  use_external_ip: false\n  enable_loopback_candidate: true\n")
	b.WriteString("  interfaces:\n    includes: [lo]\n  ips:\n    includes: [127.0.0.1/8]\n")
	// A loopback entry keeps the server from asking public STUN servers.
	b.WriteString("  stun_servers: [\"127.0.0.1:3478\"]\n")
	fmt.Fprintf(&b, "redis:\n  address: %s\n", s.Redis.Addr())
	// As deploy/livekit/livekit.yaml: each attempt at a SIP request outlasts
	// the longest ring, so a phone still ringing is not dialled again.
	b.WriteString("psrpc:\n  timeout: 330s\n")
	fmt.Fprintf(&b, "keys:\n  %s: %s\n", s.Key, s.Secret)
	// As deploy/livekit/livekit.yaml: browsers' livekit-client opens a
	// data-track channel, which a server without data tracks closes.
	b.WriteString("enable_data_tracks: true\n")
	if len(webhooks) > 0 {
		fmt.Fprintf(&b, "webhook:\n  api_key: %s\n  urls:\n", s.Key)
		for _, u := range webhooks {
			fmt.Fprintf(&b, "    - %q\n", u)
		}
	}
	fmt.Fprintf(&b, "logging:\n  level: %s\n", level)
	return b.String()
}

func (s *Server) waitReady(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.HTTPURL+"/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /: %s", resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w", last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop ends the server and waits for it; its Redis is the caller's to stop.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	testenv.StopGroup(s.cmd, 5*time.Second)
	s.cmd = nil
}

// Log returns the server's log so far, for failure messages.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "livekit.log"))
	return string(b)
}

// Token mints a join token for identity in room, of the given participant
// kind, valid for an hour.
func (s *Server) Token(room, identity string, kind livekit.ParticipantInfo_Kind) (string, error) {
	at := auth.NewAccessToken(s.Key, s.Secret).
		SetIdentity(identity).
		SetKind(kind).
		SetValidFor(time.Hour).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room})
	return at.ToJWT()
}

var sdkOnce sync.Once

// QuietSDK silences the LiveKit SDK's global logger (pion's WebRTC debug
// lines), once; call it before the first participant or leg joins (Start
// does).
func QuietSDK() { sdkOnce.Do(func() { lksdk.SetLogger(protoLogger.GetDiscardLogger()) }) }

func freeTCP() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free tcp port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func freeUDP() (int, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free udp port: %w", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}
