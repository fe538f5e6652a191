package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/agent/pipeline"
	"github.com/voxplatform/vox/callslot"
	"github.com/voxplatform/vox/internal/testenv"
)

func TestDefaultAgentSettings(t *testing.T) {
	testenv.Require(t, "espeak-ng", "apt-get install espeak-ng")
	tests := []struct {
		name string
		env  map[string]string
		def  string
		bad  []string // each named in the problems
	}{
		{"scripted by default", nil, defaultScripted, nil},
		{"demo", map[string]string{envDefault: "demo"}, defaultDemo, nil},
		{"demo beside scripted configured agents", map[string]string{envDefault: "demo", envAgentKind: "scripted"}, defaultDemo, nil},
		{"demo with cloud providers beside scripted configured agents", map[string]string{envDefault: "demo", envAgentKind: "scripted",
			envTTSProvider: "openai", envTTSKey: "k"}, defaultDemo, nil},
		{"demo without the model names it", map[string]string{envDefault: "demo", envModelDir: "/nonexistent"}, "",
			[]string{envDefault + "=demo", "pocketsphinx-en-us"}},
		{"unknown", map[string]string{envDefault: "chatty"}, "", []string{envDefault, "scripted or demo"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearVoiceEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			v, problems := loadVoiceSettings()
			all := strings.Join(problems, "\n")
			if len(tt.bad) == 0 {
				if len(problems) > 0 {
					t.Fatalf("problems: %s", all)
				}
				if v.Default != tt.def {
					t.Fatalf("default agent %q, want %q", v.Default, tt.def)
				}
				return
			}
			for _, b := range tt.bad {
				if !strings.Contains(all, b) {
					t.Errorf("problems do not name %s:\n%s", b, all)
				}
			}
		})
	}
}

// The worker of a demo host answers calls without an agent with the
// pipeline running DemoScript; a scripted host keeps the chime and echo.
func TestWorkerDefaultAgent(t *testing.T) {
	testenv.Require(t, "espeak-ng", "apt-get install espeak-ng")
	for _, def := range []string{defaultScripted, defaultDemo} {
		t.Run(def, func(t *testing.T) {
			clearVoiceEnv(t)
			t.Setenv(envDefault, def)
			s, problems := loadCallSettings()
			if len(problems) > 0 {
				testenv.Unavailable(t, errorsOf(problems, ""))
			}
			var cfg callslot.Config
			release, err := workerCallConfig(&cfg, s, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer release()
			_, offline := cfg.Agent.(*pipeline.Offline)
			if offline != (def == defaultDemo) || (def == defaultScripted && cfg.Agent != nil) {
				t.Fatalf("$%s=%s: worker agent %T", envDefault, def, cfg.Agent)
			}
		})
	}
}

// deafSink passes everything on but the clear: an agent that goes on
// playing when the caller talks over it.
type deafSink struct{ agent.Sink }

func (deafSink) Clear() error { return nil }

type deafAgent struct{ agent.Factory }

func (d deafAgent) NewSession(call agent.Call, out agent.Sink) (agent.Session, error) {
	return d.Factory.NewSession(call, deafSink{out})
}

// TestCallConversation runs `voxfleet call --conversation` against a real
// worker (its socket, the Twilio stream, the demo agent's pipeline): the
// demo agent passes; the same agent whose clears never reach the carrier
// fails at the barge-in, and an agent that answers otherwise (the chime
// and echo) fails at once.
func TestCallConversation(t *testing.T) {
	testenv.Require(t, "espeak-ng", "apt-get install espeak-ng")
	clearVoiceEnv(t)
	t.Setenv(envDefault, defaultDemo)
	v, problems := loadVoiceSettings()
	if len(problems) > 0 {
		testenv.Unavailable(t, errorsOf(problems, ""))
	}
	logger := slog.New(slog.DiscardHandler)
	demo, err := pipeline.New(newAgentFactories(v, logger).demoConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer closeFactory(demo, logger)
	t.Setenv("VOX_SERVICE_SECRET", "a-test-service-secret-of-32-bytes-or-more")
	t.Setenv("VOXFLEET_FLEET_ID", "test-fleet")
	tests := []struct {
		name    string
		agent   agent.Factory
		problem string // "" for a call that passes
	}{
		{"demo agent", demo, ""},
		{"agent that does not stop", deafAgent{demo}, "did not stop when the caller talked over it"},
		{"scripted agent", agent.Scripted{}, "not the demo agent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sock := startWorker(t, tt.agent)
			var out, errOut bytes.Buffer
			code := dispatch([]string{"call", "--conversation", "--json", "--socket", sock}, &out, &errOut)
			var rep conversationReport
			if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
				t.Fatalf("exit %d: %v\n%s%s", code, err, out.String(), errOut.String())
			}
			t.Logf("exit %d: %s", code, strings.TrimSpace(out.String()))
			if tt.problem == "" {
				if code != exitOK || !rep.OK || len(rep.Turns) != 3 || !rep.BargeIn || !rep.AgentHungUp {
					t.Fatalf("exit %d: %+v", code, rep)
				}
				return
			}
			if code != exitFail || rep.OK || !strings.Contains(rep.Problem, tt.problem) {
				t.Fatalf("exit %d, problem %q; want %d and %q", code, rep.Problem, exitFail, tt.problem)
			}
		})
	}
}

// startWorker serves one callslot worker with agent a on a socket and
// returns its path.
func startWorker(t *testing.T, a agent.Factory) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "vxconv")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "w.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	w, err := callslot.New(callslot.Config{Index: 1, Listener: ln, Secret: []byte(os.Getenv("VOX_SERVICE_SECRET")),
		FleetID: os.Getenv("VOXFLEET_FLEET_ID"), Version: "test", Agent: a}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			t.Errorf("worker: %v", err)
		}
	})
	return sock
}
