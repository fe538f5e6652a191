package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/voxplatform/vox/api/auth"
	"github.com/voxplatform/vox/api/config"
	"github.com/voxplatform/vox/api/fleetpoll"
	"github.com/voxplatform/vox/plainbody"
	"github.com/voxplatform/vox/store"
)

// Server is voxbridge: the HTTP API and the clients it needs.
type Server struct {
	cfg     *config.Config
	logger  *slog.Logger
	store   *store.Store
	rdb     *redis.Client
	minio   *minio.Client // nil when recording links are off
	issuer  *auth.Issuer
	revoker *auth.Revoker
	limiter *auth.Limiter
	passwds *auth.Verifier
	poller  *fleetpoll.Poller
	// fleetCaller asks fleet hosts to take calls (widget calls).
	fleetCaller FleetCaller
	hub         *hub
	metrics     *metrics
	app         *fiber.App
	routes      []routeInfo

	// stopping is closed when shutdown begins, to end event streams.
	stopping  chan struct{}
	stopOnce  sync.Once
	indexesMu sync.Mutex // guards indexesOK
	indexesOK bool
}

// New builds the server and its clients. It does not wait for MongoDB or
// Redis: Run serves /health (503) until they answer.
func New(cfg *config.Config, base *slog.Logger) (*Server, error) {
	logger := base.With("component", "api")
	st, err := store.Open(cfg.MongoURI, cfg.MongoDatabase)
	if err != nil {
		return nil, err
	}
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	// Fail fast when Redis is down: one retry, short timeouts, so requests
	// get a 503 in about a second instead of hanging.
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = time.Second, time.Second, time.Second
	opt.MaxRetries, opt.PoolTimeout = 1, 2*time.Second
	redisLogOnce.Do(func() { redis.SetLogger(redisLog{base.With("component", "redis")}) })
	rdb := redis.NewClient(opt)
	s := &Server{
		cfg: cfg, logger: logger, store: st, rdb: rdb,
		issuer:   &auth.Issuer{Secret: cfg.JWTSecret, AccessTTL: cfg.AccessTTL, RefreshTTL: cfg.RefreshTTL},
		revoker:  &auth.Revoker{RDB: rdb, TTL: cfg.RefreshTTL + time.Hour},
		limiter:  &auth.Limiter{RDB: rdb, MaxPair: cfg.LoginMaxPerAccountAddress, MaxAccount: cfg.LoginMaxPerAccount, MaxAddress: cfg.LoginMaxPerAddress, Window: cfg.LoginWindow},
		metrics:  newMetrics(),
		stopping: make(chan struct{}),
	}
	s.hub = newHub(rdb, cfg.EventsMaxPerUser, cfg.EventsMaxPerOrg, logger)
	s.metrics.reg.MustRegister(s.hub.collectors()...)
	s.metrics.reg.MustRegister(newDependencyCollector(s))
	if s.passwds, err = auth.NewVerifier(cfg.BcryptCost); err != nil {
		return nil, err
	}
	if m := cfg.MinIO; m.Enabled() {
		s.minio, err = minio.New(m.Endpoint, &minio.Options{
			Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, ""), Secure: m.UseSSL,
		})
		if err != nil {
			return nil, fmt.Errorf("minio client for %s: %w", m.Endpoint, err)
		}
	}
	s.poller = fleetpoll.New(st, rdb, fleetpoll.Options{
		Interval: cfg.FleetPollInterval, Timeout: cfg.FleetPollTimeout,
		Platform: platformFleets(cfg.Fleets.Platform),
		Policy:   fleetpoll.AddressPolicy{Allowed: cfg.Fleets.AllowedNets},
	}, s.publish, base)
	s.fleetCaller = httpFleetCaller{s}
	s.app = fiber.New(fiber.Config{
		AppName: "voxbridge",
		// Values from the context are copied, never views of fasthttp's
		// reused buffers: they outlive requests (metric labels, events).
		Immutable:               true,
		ErrorHandler:            s.errorHandler,
		BodyLimit:               cfg.BodyLimit,
		DisableStartupMessage:   true,
		ReadTimeout:             30 * time.Second,
		IdleTimeout:             90 * time.Second,
		EnableTrustedProxyCheck: true,
		TrustedProxies:          cfg.TrustedProxies,
		ProxyHeader:             "X-Real-IP",
	})
	// plainbody before any handler: none may inflate a compressed body.
	s.app.Use(s.observe, plainbody.New(), s.deadline)
	s.routesAll()
	return s, nil
}

// Poller is the fleet poller, a component of its own for the run group.
func (s *Server) Poller() *fleetpoll.Poller { return s.poller }

// App is the fiber application (for tests and the OpenAPI check).
func (s *Server) App() *fiber.App { return s.app }

// Registry is the Prometheus registry of the server's metrics.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.reg }

// Run listens on the configured address and serves until ctx ends, then
// drains (see Serve).
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Addr(), err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends. Shutdown order: stop accepting, end
// the event streams, let in-flight requests finish within SHUTDOWN_TIMEOUT,
// then return; the caller closes the clients with Close.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.logger.Info("serving", "addr", ln.Addr().String())
	ictx, icancel := context.WithCancel(ctx)
	defer icancel()
	go s.ensureIndexes(ictx)
	errc := make(chan error, 1)
	go func() { errc <- s.app.Listener(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.logger.Info("stopping: draining requests", "timeout", s.cfg.ShutdownTimeout.String())
	s.stopOnce.Do(func() { close(s.stopping) })
	if err := s.app.ShutdownWithTimeout(s.cfg.ShutdownTimeout); err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	<-errc
	s.logger.Info("stopped")
	return nil
}

// Close disconnects from MongoDB and Redis.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(s.hub.close(), s.store.Close(ctx), s.rdb.Close())
}

// ensureIndexes creates the indexes, retrying until MongoDB answers.
func (s *Server) ensureIndexes(ctx context.Context) {
	for delay := 500 * time.Millisecond; ; delay = min(2*delay, 10*time.Second) {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := s.store.EnsureIndexes(cctx)
		cancel()
		if err == nil {
			s.indexesMu.Lock()
			s.indexesOK = true
			s.indexesMu.Unlock()
			s.logger.Info("indexes ready")
			return
		}
		if ctx.Err() != nil {
			return
		}
		s.logger.Warn("create indexes; retrying", "err", err, "in", delay.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

// IndexesReady reports whether the indexes Run creates in the background
// are in place.
func (s *Server) IndexesReady() bool {
	s.indexesMu.Lock()
	defer s.indexesMu.Unlock()
	return s.indexesOK
}

// EnsureIndexes creates the indexes once (bootstrap, tests).
func (s *Server) EnsureIndexes(ctx context.Context) error { return s.store.EnsureIndexes(ctx) }

// Store is the server's MongoDB store.
func (s *Server) Store() *store.Store { return s.store }

// redisLogOnce sets go-redis's process-wide logger once.
var redisLogOnce sync.Once

// redisLog sends go-redis's own messages (reconnection attempts) to slog
// instead of stderr.
type redisLog struct{ logger *slog.Logger }

// Printf implements go-redis's logging interface.
func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.logger.WarnContext(ctx, fmt.Sprintf(format, v...))
}
