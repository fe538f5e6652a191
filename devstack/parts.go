package devstack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/voxplatform/vox/deploy"
	"github.com/voxplatform/vox/upstream"
)

// steps lists the parts in start order.
func (s *Stack) steps() ([]step, error) {
	c := s.cfg
	sec := s.secrets
	mongoURI := "mongodb://" + c.addr(offMongo) + "/"
	redisURL := "redis://" + c.addr(offRedis) + "/0"
	fleetURL := s.url(offFleet)
	upFile := c.path("nginx", "upstream.conf")
	bins, err := c.lookup()
	if err != nil {
		return nil, err
	}
	lkBin, lkOn := bins["livekit-server"]
	dialBin, dialOn := bins["voxdialler"]
	consoleRoot := c.ConsoleDir

	bridgeEnv := []string{
		"VOXBRIDGE_HOST=127.0.0.1", "VOXBRIDGE_PORT=" + strconv.Itoa(c.PortBase+offBridge),
		"MONGODB_URI=" + mongoURI, "MONGODB_DATABASE=vox", "REDIS_URL=" + redisURL,
		"JWT_SECRET=" + sec["JWT_SECRET"], "VOX_SERVICE_SECRET=" + sec["VOX_SERVICE_SECRET"],
		"BCRYPT_COST=10", "LOG_LEVEL=info",
		"FLEET_PLATFORM=" + DevFleetID + "=" + fleetURL, "FLEET_ALLOWED_NETS=127.0.0.1/32",
		"MINIO_ENDPOINT=" + c.addr(offMinIO), "MINIO_ACCESS_KEY=" + sec["MINIO_ROOT_USER"],
		"MINIO_SECRET_KEY=" + sec["MINIO_ROOT_PASSWORD"], "MINIO_BUCKET=" + Bucket,
		"VOXBRIDGE_BOOTSTRAP_PASSWORD=" + sec["VOXBRIDGE_BOOTSTRAP_PASSWORD"],
	}
	if lkOn {
		bridgeEnv = append(bridgeEnv, "LIVEKIT_URL=ws://"+c.addr(offLiveKit),
			"LIVEKIT_API_KEY="+sec["LIVEKIT_API_KEY"], "LIVEKIT_API_SECRET="+sec["LIVEKIT_API_SECRET"])
	}
	fleetEnv := []string{
		"VOX_SERVICE_SECRET=" + sec["VOX_SERVICE_SECRET"], "VOXFLEET_FLEET_ID=" + DevFleetID,
		"VOXFLEET_BACKEND_URL=" + s.url(offBridge), "VOXFLEET_FLEET_URL=" + fleetURL,
		"VOXFLEET_SPOOL_DIR=" + c.path("data", "spool"),
		"VOXFLEET_MINIO_ENDPOINT=" + c.addr(offMinIO), "VOXFLEET_MINIO_ACCESS_KEY=" + sec["MINIO_ROOT_USER"],
		"VOXFLEET_MINIO_SECRET_KEY=" + sec["MINIO_ROOT_PASSWORD"], "VOXFLEET_MINIO_BUCKET=" + Bucket,
	}
	if lkOn {
		fleetEnv = append(fleetEnv, "VOXFLEET_LIVEKIT_URL=ws://"+c.addr(offLiveKit),
			"VOXFLEET_LIVEKIT_API_KEY="+sec["LIVEKIT_API_KEY"], "VOXFLEET_LIVEKIT_API_SECRET="+sec["LIVEKIT_API_SECRET"])
	}

	steps := []step{
		{
			name: "redis",
			part: Part{Name: "redis", URL: redisURL, Addr: c.addr(offRedis)},
			cmd: func() (*exec.Cmd, error) {
				bin := bins["redis-server"]
				// Append-only persistence: refresh-token revocations and
				// login limits survive a restart of the stack.
				return exec.Command(bin, "--port", strconv.Itoa(c.PortBase+offRedis), "--bind", "127.0.0.1",
					"--dir", c.path("data"), "--appendonly", "yes", "--appenddirname", "redis-aof", "--save", ""), nil
			},
			ready: tcpOK(c.addr(offRedis)),
		},
		{
			name: "mongodb",
			part: Part{Name: "mongodb", URL: mongoURI, Addr: c.addr(offMongo)},
			cmd: func() (*exec.Cmd, error) {
				bin := bins["vox-ferretdb"]
				return exec.Command(bin, "--listen", c.addr(offMongo), "--dir", c.path("data", "mongo")), nil
			},
			ready: tcpOK(c.addr(offMongo)),
		},
		{
			name: "minio",
			part: Part{Name: "minio", URL: s.url(offMinIO), Addr: c.addr(offMinIO),
				Health: s.url(offMinIO) + "/minio/health/ready"},
			cmd: func() (*exec.Cmd, error) {
				bin := bins["minio"]
				cmd := exec.Command(bin, "server", "--quiet", "--address", c.addr(offMinIO), c.path("data", "minio"))
				cmd.Env = env("MINIO_ROOT_USER="+sec["MINIO_ROOT_USER"], "MINIO_ROOT_PASSWORD="+sec["MINIO_ROOT_PASSWORD"],
					"MINIO_BROWSER=off", "MINIO_UPDATE=off")
				return cmd, nil
			},
			ready: httpOK(s.url(offMinIO) + "/minio/health/ready"),
			after: s.makeBucket,
		},
		{
			name: "livekit",
			part: Part{Name: "livekit", URL: "ws://" + c.addr(offLiveKit), Addr: c.addr(offLiveKit), Health: s.url(offLiveKit)},
			skip: func() string {
				if !lkOn {
					return "livekit-server is not installed (scripts/deps-livekit.sh or make dev-deps); LiveKit calls are off"
				}
				return ""
			},
			prepare: func(context.Context) error {
				return os.WriteFile(c.path("livekit.yaml"), []byte(s.livekitConfig(fleetURL)), 0o600)
			},
			cmd: func() (*exec.Cmd, error) {
				return exec.Command(lkBin, "--config", c.path("livekit.yaml")), nil
			},
			ready: httpOK(s.url(offLiveKit)),
		},
		{
			name: "voxbridge",
			part: Part{Name: "voxbridge", URL: s.url(offBridge), Addr: c.addr(offBridge), Health: s.url(offBridge) + "/health",
				Metrics: s.url(offBridge) + "/metrics"},
			prepare: func(ctx context.Context) error {
				cmd := exec.CommandContext(ctx, bins["voxbridge"], "bootstrap",
					"--org", DevOrg, "--email", DevEmail)
				cmd.Env = env(bridgeEnv...)
				return runOnce(ctx, "bootstrap", c.path("logs"), cmd)
			},
			cmd: func() (*exec.Cmd, error) {
				cmd := exec.Command(bins["voxbridge"])
				cmd.Env = env(bridgeEnv...)
				return cmd, nil
			},
			ready: httpOK(s.url(offBridge) + "/health"),
			grace: 25 * time.Second,
		},
		{
			name: "nginx",
			part: Part{Name: "nginx", URL: fleetURL, Addr: c.addr(offFleet)},
			// The API site serves the Console's build (or a page saying
			// how to build it) and proxies /api to voxbridge.
			also: []Part{{Name: "console", URL: s.url(offConsole), Addr: c.addr(offConsole), Health: s.url(offConsole) + "/"}},
			prepare: func(context.Context) error {
				return s.writeNginx(upFile, consoleRoot)
			},
			cmd: func() (*exec.Cmd, error) {
				return exec.Command(bins["nginx"], "-p", c.path("nginx"), "-c", c.path("nginx", "nginx.conf")), nil
			},
			ready: func(ctx context.Context) error {
				if err := tcpOK(c.addr(offFleet))(ctx); err != nil {
					return err
				}
				return CheckHTTP(ctx, s.url(offConsole)+"/")
			},
		},
		{
			name: "voxfleet",
			part: Part{Name: "voxfleet", URL: fleetURL, Addr: c.addr(offDaemon), Health: s.url(offDaemon) + "/health/fleet",
				Metrics: s.url(offDaemon) + "/metrics"},
			cmd: func() (*exec.Cmd, error) {
				nx := bins["nginx"] + " -p " + c.path("nginx") + " -c " + c.path("nginx", "nginx.conf")
				cmd := exec.Command(bins["voxfleet"], "run",
					"--workers", strconv.Itoa(c.Workers),
					"--socket-dir", c.path("run"),
					"--state-file", c.path("data", "fleet-state.json"),
					"--upstream-file", upFile,
					"--listen", c.addr(offDaemon),
					"--nginx-test", nx+" -t -q",
					"--nginx-reload", nx+" -s reload",
					"--stop-timeout", "20s",
					"--log-format", "text")
				cmd.Env = env(fleetEnv...)
				return cmd, nil
			},
			ready: func(ctx context.Context) error {
				if err := fleetReady(s.url(offDaemon) + "/health/fleet")(ctx); err != nil {
					return err
				}
				return routed(fleetURL + "/ws/twilio")(ctx)
			},
			grace: 30 * time.Second,
		},
		{
			name: "voxdialler",
			part: Part{Name: "voxdialler", URL: s.url(offDialler), Addr: c.addr(offDialler), Health: s.url(offDialler) + "/health",
				Metrics: s.url(offDialler) + "/metrics"},
			skip: func() string {
				if !dialOn {
					return filepath.Join(c.BinDir, "voxdialler") + " is not built (make build)"
				}
				return ""
			},
			// The simulated placer: there is no carrier (nor livekit-sip)
			// on a development machine, so a running campaign's calls are
			// simulated (voxdialler -h lists the settings).
			cmd: func() (*exec.Cmd, error) {
				cmd := exec.Command(dialBin)
				cmd.Env = env("MONGODB_URI="+mongoURI, "MONGODB_DATABASE=vox", "LOG_LEVEL=info",
					"VOX_SERVICE_SECRET="+sec["VOX_SERVICE_SECRET"], "VOXBRIDGE_URL="+s.url(offBridge),
					"HEALTH_PORT="+strconv.Itoa(c.PortBase+offDialler), "HEALTH_HOST=127.0.0.1",
					"DIALLER_PLACER=simulate", "DIALLER_SIM_WORKERS="+strconv.Itoa(c.Workers),
					"DIALLER_SIM_LOG="+c.path("logs", "voxdialler-calls.log"))
				return cmd, nil
			},
			ready: httpOK(s.url(offDialler) + "/health"),
		},
	}
	return steps, nil
}

// makeBucket creates the recordings bucket unless it exists.
func (s *Stack) makeBucket(ctx context.Context) error {
	mc, err := minio.New(s.cfg.addr(offMinIO), &minio.Options{
		Creds: credentials.NewStaticV4(s.secrets["MINIO_ROOT_USER"], s.secrets["MINIO_ROOT_PASSWORD"], ""),
	})
	if err != nil {
		return err
	}
	// MinIO answers /minio/health/ready a moment before its object layer
	// serves requests ("Server not initialized yet"): retry until then.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		ok, err := mc.BucketExists(ctx, Bucket)
		if err == nil && !ok {
			err = mc.MakeBucket(ctx, Bucket, minio.MakeBucketOptions{})
		}
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bucket %s: %w", Bucket, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// livekitConfig is livekit-server's configuration pinned to loopback, with
// the SIP API on (Redis) and the inbound-call webhook to the fleet.
func (s *Stack) livekitConfig(fleetURL string) string {
	c := s.cfg
	return fmt.Sprintf(`# written by voxdev
port: %d
bind_addresses: [127.0.0.1]
log_level: info
rtc:
  tcp_port: %d
  port_range_start: %d
  port_range_end: %d
  node_ip: 127.0.0.1
  use_external_ip: false
  enable_loopback_candidate: true
  stun_servers: [127.0.0.1:%d]
  interfaces:
    includes: [lo]
  ips:
    includes: [127.0.0.1/8]
redis:
  address: %s
# As deploy/livekit/livekit.yaml: a phone still ringing is not dialled again.
psrpc:
  timeout: 330s
keys:
  %s: %s
# As deploy/livekit/livekit.yaml: the Console's test call opens a data track.
enable_data_tracks: true
webhook:
  api_key: %s
  urls: [%s/livekit/dispatch]
`, c.PortBase+offLiveKit, c.PortBase+offRTCTCP, c.PortBase+offRTCFirst, c.PortBase+offRTCLast,
		c.PortBase+offRTCFirst, c.addr(offRedis),
		s.secrets["LIVEKIT_API_KEY"], s.secrets["LIVEKIT_API_SECRET"], s.secrets["LIVEKIT_API_KEY"], fleetURL)
}

// writeNginx writes one nginx with both shipped sites adapted to loopback:
// the API site (Console + API) and the fleet site, and the empty upstream
// file the fleet site includes until voxfleet renders it.
func (s *Stack) writeNginx(upFile, consoleRoot string) error {
	c := s.cfg
	if !fileExists(filepath.Join(consoleRoot, "index.html")) {
		// Without a Console build the API site still serves the API; a
		// placeholder page says how to get the Console.
		consoleRoot = c.path("console")
		if err := os.MkdirAll(consoleRoot, 0o755); err != nil {
			return err
		}
		page := "<!doctype html><title>Vox</title><p>The Console is not built: run <code>make console-build</code>, then reload.</p>\n"
		if err := os.WriteFile(filepath.Join(consoleRoot, "index.html"), []byte(page), 0o644); err != nil {
			return err
		}
	}
	api, err := deploy.LoopbackAPISite(deploy.Loopback{Listen: c.addr(offConsole), LogDir: c.path("logs"),
		API: c.addr(offBridge), Root: consoleRoot})
	if err != nil {
		return err
	}
	fleet, err := deploy.LoopbackFleetSite(deploy.Loopback{Listen: c.addr(offFleet), LogDir: c.path("logs"),
		UpstreamFile: upFile, Daemon: c.addr(offDaemon)})
	if err != nil {
		return err
	}
	if !fileExists(upFile) {
		if err := os.WriteFile(upFile, upstream.Render(upstream.Params{}), 0o644); err != nil {
			return err
		}
	}
	user := ""
	if os.Geteuid() == 0 {
		// Worker sockets and the Console live under this user's home.
		user = "user root;\n"
	}
	p := c.path("nginx")
	conf := fmt.Sprintf(`# written by voxdev
daemon off;
master_process on;
worker_processes 2;
%spid %s/nginx.pid;
error_log %s/nginx.error.log notice;
events { worker_connections 512; }
http {
    include %s;
    default_type application/octet-stream;
    access_log %s/nginx.access.log;
    client_body_temp_path %s/tmp/body;
    proxy_temp_path %s/tmp/proxy;
    fastcgi_temp_path %s/tmp/fastcgi;
    uwsgi_temp_path %s/tmp/uwsgi;
    scgi_temp_path %s/tmp/scgi;
    include %s/api.conf;
    include %s/fleet.conf;
}
`, user, p, c.path("logs"), mimeTypes(), c.path("logs"), p, p, p, p, p, p, p)
	for name, body := range map[string]string{"api.conf": api, "fleet.conf": fleet, "nginx.conf": conf} {
		if err := os.WriteFile(filepath.Join(p, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// mimeTypes is nginx's mime.types, so that the Console's files are served
// with their types.
func mimeTypes() string {
	for _, p := range []string{"/etc/nginx/mime.types", "/usr/local/nginx/conf/mime.types"} {
		if fileExists(p) {
			return p
		}
	}
	return "/etc/nginx/mime.types"
}
