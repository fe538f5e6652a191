package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/voxplatform/vox/callslot"
	"github.com/voxplatform/vox/lkapi"
	"github.com/voxplatform/vox/runtimeapi"
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
	}
	var problems []string
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

// spooledCall is one call record waiting in the spool for the Backend.
type spooledCall struct {
	CallID string                `json:"call_id"`
	Record runtimeapi.CallRecord `json:"record"`
	Worker *callslot.CallRecord  `json:"worker,omitempty"` // what the worker knew, for people
}

// spoolRecorder writes each call record to the host's spool; the daemon
// delivers them (callDrainer).
type spoolRecorder struct {
	spool    *spool.Spool
	fleetURL string
}

var spoolKeyBad = regexp.MustCompile(`[^A-Za-z0-9_.:-]`)

// RecordCall implements callslot.CallRecorder.
func (r spoolRecorder) RecordCall(_ context.Context, rec callslot.CallRecord) error {
	key := spoolKeyBad.ReplaceAllString(rec.CallID, "_")
	if !spool.ValidKey(key) {
		return fmt.Errorf("call id %q cannot name a spooled record", rec.CallID)
	}
	return r.spool.Put(key, spooledCall{CallID: rec.CallID, Record: rec.Runtime(r.fleetURL), Worker: &rec})
}

// callDrainer delivers the spool's records to the Backend, keeping them
// while it is down; a record it refuses (4xx) goes to the spool's failed/.
func callDrainer(sp *spool.Spool, client *runtimeclient.Client, logger *slog.Logger) *spool.Drainer {
	return &spool.Drainer{Spool: sp, Logger: logger, Sink: func(ctx context.Context, key string, b []byte) error {
		var sc spooledCall
		if err := json.Unmarshal(b, &sc); err != nil {
			return spool.Permanent(fmt.Errorf("record %s: %w", key, err))
		}
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		err := client.PutCall(ctx, sc.CallID, sc.Record)
		if err != nil && runtimeclient.Permanent(err) {
			return spool.Permanent(err)
		}
		return err
	}}
}

// newRuntimeClient is the Backend client of workers and the daemon.
func newRuntimeClient(s callSettings) (*runtimeclient.Client, error) {
	if s.BackendURL == "" {
		return nil, errors.New("no backend URL")
	}
	return runtimeclient.New(runtimeclient.Config{BaseURL: s.BackendURL, Secret: []byte(os.Getenv("VOX_SERVICE_SECRET"))})
}

// workerCallConfig fills a worker's LiveKit, Backend and record settings.
func workerCallConfig(cfg *callslot.Config, s callSettings, logger *slog.Logger) error {
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
		cfg.Recorder = spoolRecorder{spool: sp, fleetURL: s.FleetURL}
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
	return nil
}
