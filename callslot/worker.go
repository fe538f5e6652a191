package callslot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/lifeline"
	"github.com/voxplatform/vox/plainbody"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/svcauth"
)

// Defaults and limits.
const (
	// DefaultMaxCallDuration ends a call that has run this long.
	DefaultMaxCallDuration = time.Hour
	// BodyLimit bounds a request body; larger ones get 413.
	BodyLimit = fleetapi.BodyLimit
	// handshakeTimeout bounds a WebSocket upgrade and frees the slot if the
	// upgraded connection never starts.
	handshakeTimeout = 10 * time.Second
	// startTimeout is how long a stream may take to send its start message.
	startTimeout = 10 * time.Second
	// DefaultStallAfter flags a call whose inbound media has not advanced
	// for this long (a carrier sends a frame every 20 ms).
	DefaultStallAfter = 5 * time.Second
	// DefaultStallEnd ends a started stream from which nothing has arrived
	// for this long.
	DefaultStallEnd = 30 * time.Second
	// writeTimeout bounds one write to a stream.
	writeTimeout = 5 * time.Second
	// shutdownTimeout bounds closing idle HTTP connections once drained.
	shutdownTimeout = 5 * time.Second
)

// Config is what a worker needs; the daemon fills it from its flags.
type Config struct {
	Index    int
	Listener net.Listener       // already bound; Run serves on it and closes it on return
	Lifeline io.ReadWriteCloser // may be nil; Run watches it for EOF and closes it on return
	Secret   []byte             // VOX_SERVICE_SECRET
	// FleetID is this host's identity (VOXFLEET_FLEET_ID): only tokens for
	// svcauth.FleetAudience(FleetID) are accepted.
	FleetID         string
	Version         string
	MaxCallDuration time.Duration // 0 → DefaultMaxCallDuration
	// StallAfter flags a call whose media stopped advancing (lifeline
	// KindStalled); StallEnd ends it. 0 → the defaults.
	StallAfter, StallEnd time.Duration
	Agent                agent.Factory // nil → agent.Scripted default
	// AgentFactory, when set, makes the session factory of a call whose
	// agent's configuration is known (greeting, prompt, script, voice,
	// language); other calls use Agent.
	AgentFactory func(a runtimeapi.Agent) (agent.Factory, error)

	// Rooms carries calls through LiveKit rooms (NewLiveKit); nil → the
	// LiveKit routes answer 503.
	Rooms RoomMedia
	// Agents looks agent configurations up (the inbound agent by number,
	// each call's greeting, maximum length, recording); nil → the default
	// agent, and /livekit/dispatch takes calls without a lookup.
	Agents Agents
	// Recorder receives each call's record at each step; nil → logged only.
	Recorder CallRecorder
	// Recordings records the calls whose agent says so (both sides, one
	// stereo file); nil → no recording.
	Recordings Recordings
}

// Worker serves one call at a time on its socket.
type Worker struct {
	cfg    Config
	log    *slog.Logger
	events *lifeline.Sender
	slot   *slot
	app    *fiber.App
	pid    int

	calls     atomic.Int64  // calls ended so far
	drainOnce sync.Once     // sends the draining event once
	drainCh   chan struct{} // closed by Drain
}

// New checks cfg and builds a worker; it does not serve until Run.
func New(cfg Config, logger *slog.Logger) (*Worker, error) {
	var errs []error
	if cfg.Listener == nil {
		errs = append(errs, errors.New("listener: required"))
	}
	if err := svcauth.ValidateSecret(string(cfg.Secret)); err != nil {
		errs = append(errs, fmt.Errorf("service secret: %w", err))
	}
	if err := svcauth.ValidateFleetID(cfg.FleetID); err != nil {
		errs = append(errs, fmt.Errorf("fleet id: %w", err))
	}
	if cfg.Index < 0 {
		errs = append(errs, fmt.Errorf("index %d: must not be negative", cfg.Index))
	}
	if cfg.MaxCallDuration < 0 {
		errs = append(errs, fmt.Errorf("max call duration %v: must not be negative", cfg.MaxCallDuration))
	}
	if cfg.StallAfter < 0 || cfg.StallEnd < 0 {
		errs = append(errs, errors.New("stall limits: must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("callslot config: %w", err)
	}
	if cfg.MaxCallDuration == 0 {
		cfg.MaxCallDuration = DefaultMaxCallDuration
	}
	if cfg.StallAfter == 0 {
		cfg.StallAfter = DefaultStallAfter
	}
	if cfg.StallEnd == 0 {
		cfg.StallEnd = DefaultStallEnd
	}
	if cfg.StallEnd <= cfg.StallAfter {
		return nil, fmt.Errorf("callslot config: stall end %s must be longer than stall after %s", cfg.StallEnd, cfg.StallAfter)
	}
	if cfg.Agent == nil {
		cfg.Agent = agent.Scripted{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &Worker{
		cfg:     cfg,
		log:     logger.With("component", "callslot", "index", cfg.Index),
		slot:    newSlot(),
		pid:     os.Getpid(),
		drainCh: make(chan struct{}),
	}
	if cfg.Lifeline != nil {
		w.events = lifeline.NewSender(cfg.Lifeline)
	}
	w.app = w.newApp()
	return w, nil
}

func (w *Worker) newApp() *fiber.App {
	app := fiber.New(fiber.Config{
		AppName:               "voxfleet-worker",
		DisableStartupMessage: true,
		BodyLimit:             BodyLimit,
		ReadTimeout:           10 * time.Second,
		WriteTimeout:          10 * time.Second,
		IdleTimeout:           30 * time.Second,
		ErrorHandler:          w.handleError,
	})
	app.Use(recover.New(recover.Config{
		EnableStackTrace: true,
		StackTraceHandler: func(c *fiber.Ctx, e any) {
			w.log.Error("handler panic", "path", c.Path(), "panic", fmt.Sprint(e))
		},
	}))
	// Before any handler can inflate a compressed body (see plainbody).
	app.Use(plainbody.New())
	app.Get(fleetapi.PathHealth, w.health)
	w.streamRoutes(app)
	app.Post(fleetapi.PathAttach, w.authenticate(false), w.attach)
	app.Post(fleetapi.PathDialout, w.authenticate(false), w.dialout)
	app.Post(fleetapi.PathWidget, w.authenticate(false), w.widget)
	app.Post(fleetapi.PathDispatch, w.dispatch) // LiveKit signs it: see dispatch
	return app
}

// Run serves until ctx ends, the lifeline reads EOF or Drain is called;
// then it takes no new call, waits for the call in progress to end, shuts
// the server down and returns nil. It returns an error only when serving
// fails.
func (w *Worker) Run(ctx context.Context) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- w.app.Listener(w.cfg.Listener) }()
	if err := w.events.Send(lifeline.Event{Kind: lifeline.KindReady, PID: w.pid, Version: w.cfg.Version}); err != nil {
		w.log.Warn("lifeline send failed", "err", err)
	}
	w.log.Info("serving", "addr", w.cfg.Listener.Addr().String(), "pid", w.pid, "version", w.cfg.Version)

	watchDone := make(chan struct{})
	if w.cfg.Lifeline != nil {
		go func() {
			defer close(watchDone)
			err := lifeline.Read(w.cfg.Lifeline, func(lifeline.Event) {})
			select {
			case <-w.drainCh:
				return // Run closed the lifeline itself
			default:
			}
			w.log.Info("lifeline closed: draining", "err", err)
			w.Drain()
		}()
	} else {
		close(watchDone)
	}

	var err error
	select {
	case <-ctx.Done():
		w.log.Info("stopping: draining")
		w.Drain()
	case <-w.drainCh:
	case err = <-serveErr:
		err = fmt.Errorf("serve on %s: %w", w.cfg.Listener.Addr(), err)
		w.log.Error("serving failed: draining", "err", err)
		w.Drain()
	}
	<-w.slot.drained
	w.log.Info("drained: shutting down")

	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if serr := w.app.ShutdownWithContext(sctx); serr != nil && err == nil {
		w.log.Warn("shutdown", "err", serr)
	}
	_ = w.cfg.Listener.Close()
	if err == nil {
		<-serveErr
	}
	if w.cfg.Lifeline != nil {
		_ = w.cfg.Lifeline.Close()
	}
	<-watchDone
	return err
}

// Drain stops admitting calls: new ones get 429, /health says draining, and
// Run returns once the call in progress (if any) has ended.
func (w *Worker) Drain() {
	w.drainOnce.Do(func() {
		w.slot.drain()
		close(w.drainCh)
		if err := w.events.Send(lifeline.Event{Kind: lifeline.KindDraining, PID: w.pid}); err != nil {
			w.log.Warn("lifeline send failed", "err", err)
		}
		state, callID := w.slot.state()
		w.log.Info("draining", "state", state, "call_id", callID)
	})
}

// State reports the slot's state (fleetapi.WorkerIdle, WorkerBusy or WorkerDraining) and
// the call in progress, if any.
func (w *Worker) State() (state fleetapi.WorkerState, callID string) { return w.slot.state() }

func (w *Worker) health(c *fiber.Ctx) error {
	state, callID := w.slot.state()
	return c.JSON(fleetapi.Health{State: state, CallID: callID, PID: w.pid, Index: w.cfg.Index, Version: w.cfg.Version})
}

// authenticate requires a service token for this fleet host
// (svcauth.FleetAudience of Config.FleetID) in the Authorization header, or,
// when query is set (WebSocket routes, whose carriers cannot set headers), in
// ?token=.
func (w *Worker) authenticate(query bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		token := svcauth.FromHeader(c.Get(fiber.HeaderAuthorization))
		if token == "" && query {
			token = c.Query("token")
		}
		sub, err := svcauth.Verify(w.cfg.Secret, svcauth.FleetAudience(w.cfg.FleetID), token)
		if err != nil {
			return errorf(fiber.StatusUnauthorized, "unauthorized", err)
		}
		c.Locals("subject", sub)
		return c.Next()
	}
}

// callEnded reports a finished call: to the recorder, the log and the
// lifeline. The caller frees the slot afterwards.
func (w *Worker) callEnded(rec CallRecord) {
	n := w.calls.Add(1)
	w.log.Info("call ended", "call_id", rec.CallID, "source", rec.Source, "cause", rec.Cause, "outcome", rec.Outcome,
		"reason", rec.Reason, "seconds", rec.Seconds())
	w.record(rec)
	if err := w.events.Send(lifeline.Event{Kind: lifeline.KindCallEnd, CallID: rec.CallID, Outcome: rec.Outcome,
		Seconds: rec.Seconds(), Calls: int(n), PID: w.pid}); err != nil {
		w.log.Warn("lifeline send failed", "err", err)
	}
}

// record hands rec to the recorder, if any.
func (w *Worker) record(rec CallRecord) {
	if w.cfg.Recorder == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.cfg.Recorder.RecordCall(ctx, rec); err != nil {
		w.log.Error("call record lost", "call_id", rec.CallID, "status", rec.Status(), "err", err)
	}
}

// callStalled reports a call whose media stopped (or started again).
func (w *Worker) callStalled(callID string, stalled bool) {
	if stalled {
		w.log.Warn("call media stalled", "call_id", callID, "after", w.cfg.StallAfter.String())
	} else {
		w.log.Info("call media flowing again", "call_id", callID)
	}
	if err := w.events.Send(lifeline.Event{Kind: lifeline.KindStalled, CallID: callID, Stalled: stalled, PID: w.pid}); err != nil {
		w.log.Debug("lifeline send failed", "err", err)
	}
}

func (w *Worker) callStarted(callID string) {
	w.log.Info("call started", "call_id", callID)
	if err := w.events.Send(lifeline.Event{Kind: lifeline.KindCallStart, CallID: callID, PID: w.pid}); err != nil {
		w.log.Warn("lifeline send failed", "err", err)
	}
}
