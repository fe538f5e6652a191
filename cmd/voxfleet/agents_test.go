package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/agent/pipeline"
	"github.com/voxplatform/vox/internal/testenv"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/voice/llm"
)

// clearVoiceEnv unsets every voice setting for the test.
func clearVoiceEnv(t *testing.T) {
	for _, k := range []string{envAgentKind, envModelDir, envSTTProvider, envSTTURL, envSTTKey, envSTTModel, envTTSProvider,
		envTTSURL, envTTSKey, envTTSModel, envTTSVoice, envLLMURL, envLLMKey, envLLMModel, envDefault} {
		t.Setenv(k, "")
	}
}

func TestVoiceSettings(t *testing.T) {
	testenv.Require(t, "espeak-ng", "apt-get install espeak-ng")
	tests := []struct {
		name string
		env  map[string]string
		kind string
		bad  []string // each named in the problems
	}{
		{"default is the offline pipeline", nil, agentOffline, nil},
		{"scripted on request", map[string]string{envAgentKind: "scripted"}, agentScripted, nil},
		{"auto without the model is scripted", map[string]string{envModelDir: "/nonexistent"}, agentScripted, nil},
		{"offline without the model fails", map[string]string{envAgentKind: "offline", envModelDir: "/nonexistent"}, "",
			[]string{"pocketsphinx-en-us"}},
		{"cloud providers", map[string]string{envSTTProvider: "deepgram", envSTTKey: "k", envTTSProvider: "openai",
			envTTSKey: "k", envLLMURL: "http://127.0.0.1:11434/v1", envLLMModel: "llama3"}, agentOffline, nil},
		{"every bad setting named", map[string]string{envAgentKind: "clever", envSTTProvider: "whisper",
			envTTSProvider: "elevenlabs", envTTSURL: "ftp://x", envLLMURL: "nowhere", envLLMKey: "k"}, "",
			[]string{envAgentKind, envSTTProvider, envTTSKey, envTTSURL, envLLMURL, envLLMModel}},
		{"keys without a provider", map[string]string{envSTTKey: "k", envLLMModel: "m"}, "", []string{envSTTKey, envLLMURL}},
		{"scripted with providers", map[string]string{envAgentKind: "scripted", envTTSProvider: "openai", envTTSKey: "k"}, "",
			[]string{"scripted agent uses none"}},
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
				if v.Kind != tt.kind {
					t.Fatalf("kind %q, want %q", v.Kind, tt.kind)
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

func TestRunNamesBadVoiceSettings(t *testing.T) {
	clearVoiceEnv(t)
	t.Setenv("VOX_SERVICE_SECRET", strings.Repeat("s", 40))
	t.Setenv("VOXFLEET_FLEET_ID", "f1")
	t.Setenv(envSTTProvider, "deepgram")
	t.Setenv(envLLMURL, "http://127.0.0.1:1/v1")
	var out, errOut bytes.Buffer
	code := dispatch([]string{"run", "--socket-dir", t.TempDir()}, &out, &errOut)
	if code != exitUsage {
		t.Fatalf("exit %d, want %d: %s", code, exitUsage, errOut.String())
	}
	for _, want := range []string{envSTTKey, envLLMModel} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr does not name %s:\n%s", want, errOut.String())
		}
	}
}

// TestAgentFactories: an agent's script (with spoken routes and a field)
// becomes the pipeline's, the factory is built once per configuration, and
// a changed configuration gets a new one.
func TestAgentFactories(t *testing.T) {
	testenv.Require(t, "espeak-ng", "apt-get install espeak-ng")
	clearVoiceEnv(t)
	v, problems := loadVoiceSettings()
	if len(problems) > 0 || v.Kind != agentOffline {
		testenv.Unavailable(t, errorsOf(problems, v.Why))
	}
	a := runtimeapi.Agent{ID: "0123456789abcdef01234567", AgentSettings: runtimeapi.AgentSettings{Language: "en-GB", Voice: "alloy",
		Greeting: "Hello.", Script: []runtimeapi.ScriptStep{
			{ID: "ask", Say: "Book or cancel?", Routes: []runtimeapi.ScriptRoute{{Words: []string{"book"}, Next: "name"}}},
			{ID: "name", Say: "Your name?", Field: "name", Hangup: true}}}}
	f := newAgentFactories(v, slog.New(slog.DiscardHandler))
	defer f.Close()
	cfg := f.config(a)
	if cfg.Agent.Voice != "en-gb" || cfg.TTS.Voice != "alloy" {
		t.Errorf("voices: espeak %q, cloud %q; want en-gb and the agent's alloy", cfg.Agent.Voice, cfg.TTS.Voice)
	}
	s := cfg.Agent.Script
	if s.Greeting != "Hello." || len(s.Steps) != 2 || s.Steps[0].Routes[0].Next != "name" || s.Steps[1].Field != "name" {
		t.Fatalf("script %+v", s)
	}
	f1, err := f.For(a)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f1.(*pipeline.Offline); !ok {
		t.Fatalf("factory %T, want the offline pipeline", f1)
	}
	if f2, _ := f.For(a); f2 != f1 {
		t.Error("the same agent configuration was built twice")
	}
	a.Greeting = "Hi."
	if f3, _ := f.For(a); f3 == f1 {
		t.Error("a changed configuration kept the old pipeline")
	}
	a.Script[0].Next = "nowhere"
	if _, err := f.For(a); err == nil {
		t.Error("a script with an unknown step was accepted")
	}
	var _ agent.Factory = f1
}

func errorsOf(problems []string, why string) error {
	return &settingsError{strings.Join(append(problems, why), "; ")}
}

type settingsError struct{ s string }

func (e *settingsError) Error() string { return e.s }

// TestAgentProviders: an agent's provider choice applies where the host
// has the provider; elsewhere the host's own choice stands.
func TestAgentProviders(t *testing.T) {
	host := voiceSettings{Kind: agentOffline, LocalSTT: true,
		STT: pipeline.Provider{Name: pipeline.ProviderDeepgram, APIKey: "k"},
		TTS: pipeline.Provider{Name: pipeline.ProviderOpenAI, APIKey: "k"},
		LLM: &llm.Config{BaseURL: "http://127.0.0.1:1/v1", Model: "m"}}
	noModel := host
	noModel.LLM, noModel.LocalSTT = nil, false
	tests := []struct {
		name     string
		host     voiceSettings
		prompt   string
		p        runtimeapi.AgentProviders
		stt, tts string
		model    bool
	}{
		{"the host's choice", host, "Be brief.", runtimeapi.AgentProviders{}, "deepgram", "openai", true},
		{"no prompt: the script", host, "", runtimeapi.AgentProviders{}, "deepgram", "openai", false},
		{"local engines asked for", host, "Be brief.", runtimeapi.AgentProviders{STT: "pocketsphinx", TTS: "espeak", Brain: "script"}, "", "", false},
		{"the model asked for without a prompt", host, "", runtimeapi.AgentProviders{Brain: "model"}, "deepgram", "openai", true},
		{"providers the host lacks", noModel, "Be brief.", runtimeapi.AgentProviders{STT: "pocketsphinx", TTS: "elevenlabs", Brain: "model"}, "deepgram", "openai", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAgentFactories(tt.host, slog.New(slog.DiscardHandler))
			cfg := f.config(runtimeapi.Agent{AgentSettings: runtimeapi.AgentSettings{Language: "en-US", Prompt: tt.prompt, Providers: tt.p}})
			if cfg.STT.Name != tt.stt || cfg.TTS.Name != tt.tts || (cfg.LLM != nil) != tt.model {
				t.Fatalf("stt %q tts %q model %v; want %q %q %v", cfg.STT.Name, cfg.TTS.Name, cfg.LLM != nil, tt.stt, tt.tts, tt.model)
			}
			if tt.model && cfg.LLM.Prompt != tt.prompt {
				t.Fatalf("model prompt %q", cfg.LLM.Prompt)
			}
		})
	}
}
