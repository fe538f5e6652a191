package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/voxplatform/vox/agent/pipeline"
	"github.com/voxplatform/vox/callslot"
	"github.com/voxplatform/vox/lkapi"
	"github.com/voxplatform/vox/recording"
	"github.com/voxplatform/vox/runtimeclient"
	"github.com/voxplatform/vox/spool"
)

// Call settings: how workers reach LiveKit and the Backend, and where call
// records wait for the Backend. The daemon validates them at start (and
// resolves the spool directory); its workers inherit them through the
// environment and validate them again.
const (
	envLiveKitURL    = "VOXFLEET_LIVEKIT_URL"
	envLiveKitKey    = "VOXFLEET_LIVEKIT_API_KEY"
	envLiveKitSecret = "VOXFLEET_LIVEKIT_API_SECRET"
	envLiveKitTrunk  = "VOXFLEET_LIVEKIT_TRUNK"
	envBackendURL    = "VOXFLEET_BACKEND_URL"
	envSpoolDir      = "VOXFLEET_SPOOL_DIR"
	envFleetURL      = "VOXFLEET_FLEET_URL"
	envMinIOEndpoint = "VOXFLEET_MINIO_ENDPOINT"
	envMinIOKey      = "VOXFLEET_MINIO_ACCESS_KEY"
	envMinIOSecret   = "VOXFLEET_MINIO_SECRET_KEY"
	envMinIOBucket   = "VOXFLEET_MINIO_BUCKET"
)

// callSettingsHelp ends `voxfleet run -h`.
const callSettingsHelp = `
call settings (environment only; the workers inherit them):
  $VOXFLEET_LIVEKIT_URL, $VOXFLEET_LIVEKIT_API_KEY, $VOXFLEET_LIVEKIT_API_SECRET
        the LiveKit server and its API key pair; all three or none (none: the LiveKit routes answer 503)
  $VOXFLEET_LIVEKIT_TRUNK
        outbound SIP trunk of /livekit/dialout requests that name none
  $VOXFLEET_BACKEND_URL
        the Backend (voxbridge): agent configurations, and where call records go
  $VOXFLEET_SPOOL_DIR
        call records wait here for the Backend, agent configurations are cached here (default: spool beside the state file)
  $VOXFLEET_FLEET_URL
        this host's URL as the Backend knows it, written into call records
  $VOXFLEET_MINIO_ENDPOINT, $VOXFLEET_MINIO_ACCESS_KEY, $VOXFLEET_MINIO_SECRET_KEY, $VOXFLEET_MINIO_BUCKET
        the host's MinIO (host:port, keys, bucket, default recordings): calls whose agent records are uploaded there
`

// callSettings are the settings of envLiveKit… to envFleetURL.
type callSettings struct {
	// LiveKit is unset (URL "") when no LiveKit setting is given: the
	// LiveKit routes then answer 503.
	LiveKit lkapi.Config
	Trunk   string
	// BackendURL is the Backend's base URL; "" keeps call records in the
	// spool and uses no agent configuration.
	BackendURL string
	SpoolDir   string
	FleetURL   string
	// MinIO is the host's MinIO for recordings; Endpoint "" records
	// nothing.
	MinIO recording.MinIO
	// Voice chooses the agent of calls whose agent is configured.
	Voice voiceSettings
}

var trunkRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)

// loadCallSettings reads the call settings from the environment and names
// every bad one.
func loadCallSettings() (callSettings, []string) {
	s := callSettings{
		LiveKit:    lkapi.Config{URL: os.Getenv(envLiveKitURL), Key: os.Getenv(envLiveKitKey), Secret: os.Getenv(envLiveKitSecret)},
		Trunk:      os.Getenv(envLiveKitTrunk),
		BackendURL: os.Getenv(envBackendURL),
		SpoolDir:   os.Getenv(envSpoolDir),
		FleetURL:   os.Getenv(envFleetURL),
		MinIO: recording.MinIO{Endpoint: os.Getenv(envMinIOEndpoint), AccessKey: os.Getenv(envMinIOKey),
			SecretKey: os.Getenv(envMinIOSecret), Bucket: os.Getenv(envMinIOBucket)},
	}
	if s.MinIO.Bucket == "" {
		s.MinIO.Bucket = "recordings"
	}
	var problems []string
	s.Voice, problems = loadVoiceSettings()
	if s.LiveKit != (lkapi.Config{}) {
		if err := s.LiveKit.Validate("$VOXFLEET_LIVEKIT_"); err != nil {
			for _, e := range splitJoined(err) {
				problems = append(problems, e.Error()+" (LiveKit: give URL, API key and secret, or none of them)")
			}
		}
	} else if s.Trunk != "" {
		problems = append(problems, "$"+envLiveKitTrunk+": set without $"+envLiveKitURL)
	}
	if s.Trunk != "" && !trunkRE.MatchString(s.Trunk) {
		problems = append(problems, fmt.Sprintf("$%s %q: not a trunk id", envLiveKitTrunk, s.Trunk))
	}
	for name, v := range map[string]string{envBackendURL: s.BackendURL, envFleetURL: s.FleetURL} {
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, fmt.Sprintf("$%s %q: want an http(s) URL", name, v))
		}
	}
	if s.MinIO.Endpoint != "" {
		if _, _, err := net.SplitHostPort(s.MinIO.Endpoint); err != nil {
			problems = append(problems, fmt.Sprintf("$%s %q: want host:port", envMinIOEndpoint, s.MinIO.Endpoint))
		}
		if s.MinIO.AccessKey == "" || s.MinIO.SecretKey == "" {
			problems = append(problems, "$"+envMinIOKey+", $"+envMinIOSecret+": required with $"+envMinIOEndpoint)
		}
	}
	if s.SpoolDir != "" && !filepath.IsAbs(s.SpoolDir) {
		problems = append(problems, fmt.Sprintf("$%s %q: want an absolute path", envSpoolDir, s.SpoolDir))
	}
	return s, problems
}

func splitJoined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// spoolRecorder writes each call record to the host's spool, keyed by call
// id (a later state replaces an earlier one not yet delivered); the daemon
// delivers them (runtimeclient's CallSink).
type spoolRecorder struct {
	spool    *spool.Spool
	fleetURL string
}

// RecordCall implements callslot.CallRecorder. A call without an agent
// (the built-in agent of a test call) has no organisation in the Backend:
// its record stays in the worker's log.
func (r spoolRecorder) RecordCall(_ context.Context, rec callslot.CallRecord) error {
	if rec.AgentID == "" {
		return nil
	}
	if !spool.ValidKey(rec.CallID) {
		return fmt.Errorf("call id %q cannot name a spooled record", rec.CallID)
	}
	return r.spool.Put(rec.CallID, rec.Runtime(r.fleetURL))
}

// newRuntimeClient is the Backend client of workers and the daemon.
func newRuntimeClient(s callSettings) (*runtimeclient.Client, error) {
	if s.BackendURL == "" {
		return nil, errors.New("no backend URL")
	}
	return runtimeclient.New(runtimeclient.Config{BaseURL: s.BackendURL, Secret: []byte(os.Getenv("VOX_SERVICE_SECRET"))})
}

// workerCallConfig fills a worker's LiveKit, Backend, record and agent
// settings; the worker calls release when it exits.
func workerCallConfig(cfg *callslot.Config, s callSettings, logger *slog.Logger) (release func(), err error) {
	release = func() {}
	err = workerCalls(cfg, s, logger, &release)
	return release, err
}

func workerCalls(cfg *callslot.Config, s callSettings, logger *slog.Logger, release *func()) error {
	if s.LiveKit.URL != "" {
		lk, err := callslot.NewLiveKit(callslot.LiveKitConfig{LiveKit: s.LiveKit, Trunk: s.Trunk}, logger)
		if err != nil {
			return fmt.Errorf("livekit: %w", err)
		}
		cfg.Rooms = lk
	}
	if s.SpoolDir != "" {
		sp, err := spool.Open(filepath.Join(s.SpoolDir, "calls"))
		if err != nil {
			return err
		}
		j, err := callslot.NewJournal(filepath.Join(s.SpoolDir, "live"), spoolRecorder{spool: sp, fleetURL: s.FleetURL})
		if err != nil {
			return err
		}
		cfg.Recorder = j
	}
	if s.MinIO.Endpoint != "" && s.SpoolDir != "" {
		u, err := uploader(s, nil, nil)
		if err != nil {
			return err
		}
		cfg.Recordings = u
	}
	if s.BackendURL != "" {
		client, err := newRuntimeClient(s)
		if err != nil {
			return err
		}
		agents := &runtimeclient.Agents{Client: client, Logger: logger}
		if s.SpoolDir != "" {
			cache, err := runtimeclient.NewAgentCache(filepath.Join(s.SpoolDir, "agents"))
			if err != nil {
				return err
			}
			agents.Cache = cache
		}
		cfg.Agents = agents
	}
	if s.Voice.Kind == agentOffline {
		agents := newAgentFactories(s.Voice, logger)
		cfg.AgentFactory, *release = agents.For, agents.Close
	}
	if s.Voice.Default == defaultDemo {
		// Built once for the worker's life: its recogniser stays loaded.
		fac, err := pipeline.New(newAgentFactories(s.Voice, logger).demoConfig())
		if err != nil {
			return fmt.Errorf("%s=demo: %w", envDefault, err)
		}
		cfg.Agent = fac
		prev := *release
		*release = func() { closeFactory(fac, logger); prev() }
	}
	return nil
}

// uploader is the host's recordings: workers write them (client nil), the
// daemon uploads them and tells the Backend (attach).
func uploader(s callSettings, client *minio.Client, rc *runtimeclient.Client) (*recording.Uploader, error) {
	sp, err := spool.Open(filepath.Join(s.SpoolDir, "uploads"))
	if err != nil {
		return nil, err
	}
	u := &recording.Uploader{Dir: filepath.Join(s.SpoolDir, "recordings"), Spool: sp, Client: client, Bucket: s.MinIO.Bucket}
	if rc != nil {
		u.Attach = func(ctx context.Context, job recording.Job) error {
			return rc.AttachRecording(ctx, job.CallID, job.AgentID, job.Status, job.Key)
		}
	}
	return u, nil
}

// reapEvery is how often the daemon looks for calls whose worker died.
const reapEvery = 2 * time.Second

// reapCalls ends, at once and then every reapEvery until ctx ends, the
// calls of workers that died in them (callslot.Journal): their final
// records go to the spool like any other.
func reapCalls(ctx context.Context, s callSettings, logger *slog.Logger) error {
	sp, err := spool.Open(filepath.Join(s.SpoolDir, "calls"))
	if err != nil {
		return err
	}
	j, err := callslot.NewJournal(filepath.Join(s.SpoolDir, "live"), spoolRecorder{spool: sp, fleetURL: s.FleetURL})
	if err != nil {
		return err
	}
	t := time.NewTicker(reapEvery)
	defer t.Stop()
	for {
		recs, err := j.Reap(ctx)
		for _, r := range recs {
			logger.Warn("call ended for its dead worker", "call_id", r.CallID, "cause", r.Cause, "status", r.Status(),
				"transcript_entries", len(r.Transcript))
		}
		if err != nil {
			logger.Error("ending calls of dead workers", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
