package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/agent/pipeline"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/voice/llm"
	"github.com/voxplatform/vox/voice/script"
	"github.com/voxplatform/vox/voice/stt/pocketsphinx"
)

// Voice settings: which agent a worker runs for a call whose agent the
// Backend configured, and the providers' addresses and keys. Secrets come
// from here, never from the Backend.
const (
	envAgentKind   = "VOXFLEET_AGENT"
	envDefault     = "VOXFLEET_DEFAULT_AGENT"
	envModelDir    = "VOXFLEET_STT_MODEL_DIR"
	envSTTProvider = "VOXFLEET_STT_PROVIDER"
	envSTTURL      = "VOXFLEET_STT_URL"
	envSTTKey      = "VOXFLEET_STT_API_KEY"
	envSTTModel    = "VOXFLEET_STT_MODEL"
	envTTSProvider = "VOXFLEET_TTS_PROVIDER"
	envTTSURL      = "VOXFLEET_TTS_URL"
	envTTSKey      = "VOXFLEET_TTS_API_KEY"
	envTTSModel    = "VOXFLEET_TTS_MODEL"
	envTTSVoice    = "VOXFLEET_TTS_VOICE"
	envLLMURL      = "VOXFLEET_LLM_URL"
	envLLMKey      = "VOXFLEET_LLM_API_KEY"
	envLLMModel    = "VOXFLEET_LLM_MODEL"
)

// Agent kinds of $VOXFLEET_AGENT.
const (
	agentAuto     = "auto"     // offline when its engines are installed, else scripted
	agentOffline  = "offline"  // the pipeline (required: its engines, or cloud providers)
	agentScripted = "scripted" // the chime-and-echo agent for every call
)

// Agent kinds of $VOXFLEET_DEFAULT_AGENT: what answers a call whose agent
// the Backend did not configure (a test call, a call without agent_id).
const (
	defaultScripted = "scripted" // the chime-and-echo agent: cheap, for load tests and benchmarks
	defaultDemo     = "demo"     // the pipeline with pipeline.DemoScript
)

// voiceSettingsHelp ends `voxfleet run -h`, after callSettingsHelp.
const voiceSettingsHelp = `
voice settings (environment only; secrets never come from the Backend):
  $VOXFLEET_AGENT
        auto (default: the pipeline when espeak-ng and PocketSphinx's model are installed, else scripted), offline or scripted;
        the pipeline answers calls whose agent the Backend configured (its greeting, script, prompt, voice, language),
        other calls get $VOXFLEET_DEFAULT_AGENT's agent
  $VOXFLEET_DEFAULT_AGENT
        the agent of calls whose agent the Backend did not configure: scripted (default: chime and echo, the cheap agent of
        load tests and benchmarks) or demo (the pipeline with its demo booking script; needs espeak-ng and, unless
        $VOXFLEET_STT_PROVIDER names a cloud recogniser, PocketSphinx's model)
  $VOXFLEET_STT_MODEL_DIR
        PocketSphinx's model directory (default /usr/share/pocketsphinx/model/en-us)
  $VOXFLEET_STT_PROVIDER, $VOXFLEET_STT_URL, $VOXFLEET_STT_API_KEY, $VOXFLEET_STT_MODEL
        speech-to-text: pocketsphinx (default), deepgram or openai (any OpenAI-compatible transcription endpoint)
  $VOXFLEET_TTS_PROVIDER, $VOXFLEET_TTS_URL, $VOXFLEET_TTS_API_KEY, $VOXFLEET_TTS_MODEL, $VOXFLEET_TTS_VOICE
        text-to-speech: espeak (default), openai or elevenlabs; espeak-ng stays the fallback
  $VOXFLEET_LLM_URL, $VOXFLEET_LLM_API_KEY, $VOXFLEET_LLM_MODEL
        an OpenAI-compatible chat model (hosted, vLLM, Ollama, llama.cpp): it answers for agents with a prompt,
        their script standing by when it fails
`

// voiceSettings are the settings of envAgentKind to envLLMModel.
type voiceSettings struct {
	// Kind is agentOffline or agentScripted once resolved.
	Kind     string
	ModelDir string
	STT, TTS pipeline.Provider
	// LLM is nil without $VOXFLEET_LLM_URL.
	LLM *llm.Config
	// Default is defaultScripted or defaultDemo: the agent of calls
	// whose agent the Backend did not configure.
	Default string
	// Why is why auto resolved to scripted ("" otherwise).
	Why string
	// LocalSTT: PocketSphinx's model is installed (an agent may ask for it
	// on a host whose default is a cloud recogniser).
	LocalSTT bool
}

// loadVoiceSettings reads the voice settings and names every bad one.
// Missing engines make auto resolve to scripted and offline fail.
func loadVoiceSettings() (voiceSettings, []string) {
	env := os.Getenv
	v := voiceSettings{
		Kind:     strings.ToLower(strings.TrimSpace(env(envAgentKind))),
		Default:  strings.ToLower(strings.TrimSpace(env(envDefault))),
		ModelDir: env(envModelDir),
		STT: pipeline.Provider{Name: strings.ToLower(env(envSTTProvider)), URL: env(envSTTURL), APIKey: env(envSTTKey),
			Model: env(envSTTModel)},
		TTS: pipeline.Provider{Name: strings.ToLower(env(envTTSProvider)), URL: env(envTTSURL), APIKey: env(envTTSKey),
			Model: env(envTTSModel), Voice: env(envTTSVoice)},
	}
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	switch v.Kind {
	case "":
		v.Kind = agentAuto
	case agentAuto, agentOffline, agentScripted:
	default:
		bad("$%s %q: want auto, offline or scripted", envAgentKind, v.Kind)
	}
	switch v.Default {
	case "":
		v.Default = defaultScripted
	case defaultScripted, defaultDemo:
	default:
		bad("$%s %q: want scripted or demo", envDefault, v.Default)
	}
	checkURL := func(name, u string, schemes ...string) {
		if u == "" {
			return
		}
		p, err := url.Parse(u)
		if err != nil || p.Host == "" || !slices.Contains(schemes, p.Scheme) {
			bad("$%s %q: want a %s URL", name, u, strings.Join(schemes, " or "))
		}
	}
	switch v.STT.Name {
	case "", pipeline.ProviderPocketSphinx:
		if v.STT.URL != "" || v.STT.APIKey != "" || v.STT.Model != "" {
			bad("$%s, $%s, $%s: only with a cloud $%s (deepgram or openai)", envSTTURL, envSTTKey, envSTTModel, envSTTProvider)
		}
	case pipeline.ProviderDeepgram:
		if v.STT.APIKey == "" {
			bad("$%s: required with $%s=deepgram", envSTTKey, envSTTProvider)
		}
		checkURL(envSTTURL, v.STT.URL, "wss", "ws")
	case pipeline.ProviderOpenAI:
		if v.STT.APIKey == "" && v.STT.URL == "" {
			bad("$%s: required with $%s=openai unless $%s names a local server", envSTTKey, envSTTProvider, envSTTURL)
		}
		checkURL(envSTTURL, v.STT.URL, "https", "http")
	default:
		bad("$%s %q: want pocketsphinx, deepgram or openai", envSTTProvider, v.STT.Name)
	}
	switch v.TTS.Name {
	case "", pipeline.ProviderEspeak:
		if v.TTS.URL != "" || v.TTS.APIKey != "" || v.TTS.Model != "" {
			bad("$%s, $%s, $%s: only with a cloud $%s (openai or elevenlabs)", envTTSURL, envTTSKey, envTTSModel, envTTSProvider)
		}
	case pipeline.ProviderElevenLabs:
		if v.TTS.APIKey == "" {
			bad("$%s: required with $%s=elevenlabs", envTTSKey, envTTSProvider)
		}
		checkURL(envTTSURL, v.TTS.URL, "wss", "ws")
	case pipeline.ProviderOpenAI:
		if v.TTS.APIKey == "" && v.TTS.URL == "" {
			bad("$%s: required with $%s=openai unless $%s names a local server", envTTSKey, envTTSProvider, envTTSURL)
		}
		checkURL(envTTSURL, v.TTS.URL, "https", "http")
	default:
		bad("$%s %q: want espeak, openai or elevenlabs", envTTSProvider, v.TTS.Name)
	}
	if u := env(envLLMURL); u != "" {
		checkURL(envLLMURL, u, "https", "http")
		v.LLM = &llm.Config{BaseURL: u, APIKey: env(envLLMKey), Model: env(envLLMModel)}
		if v.LLM.Model == "" {
			bad("$%s: required with $%s", envLLMModel, envLLMURL)
		}
	} else if env(envLLMKey) != "" || env(envLLMModel) != "" {
		bad("$%s, $%s: set without $%s", envLLMKey, envLLMModel, envLLMURL)
	}
	cloud := v.STT.Name != "" || v.TTS.Name != "" || v.LLM != nil
	if v.Kind == agentScripted && v.Default != defaultDemo && cloud {
		bad("$%s=scripted: providers are set ($%s, $%s, $%s) but the scripted agent uses none", envAgentKind, envSTTProvider, envTTSProvider, envLLMURL)
	}
	v.LocalSTT = pocketsphinxInstalled(v.ModelDir) == nil
	if v.Default == defaultDemo {
		for _, m := range v.missingEngines() {
			bad("$%s=demo: %s", envDefault, m)
		}
	}
	if v.Kind != agentScripted {
		missing := v.missingEngines()
		switch {
		case len(missing) == 0:
			v.Kind = agentOffline
		case v.Kind == agentOffline || cloud:
			for _, m := range missing {
				bad("$%s=offline: %s", envAgentKind, m)
			}
		default:
			v.Kind, v.Why = agentScripted, strings.Join(missing, "; ")
		}
	}
	return v, problems
}

// missingEngines names each local engine the pipeline needs and cannot
// find, with its install step.
func (v voiceSettings) missingEngines() []string {
	var out []string
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		out = append(out, "espeak-ng not found (apt-get install espeak-ng; make deps)")
	}
	if v.STT.Name == "" || v.STT.Name == pipeline.ProviderPocketSphinx {
		if err := pocketsphinxInstalled(v.ModelDir); err != nil {
			out = append(out, err.Error())
		}
	}
	return out
}

// pocketsphinxInstalled says why PocketSphinx's model in dir (its default
// place when "") cannot be used, if it cannot.
func pocketsphinxInstalled(dir string) error {
	if dir == "" {
		dir = pocketsphinx.DefaultModelDir
	}
	if _, err := os.Stat(filepath.Join(dir, "en-us", "mdef")); err != nil {
		return fmt.Errorf("no PocketSphinx model in %s ($%s; apt-get install pocketsphinx-en-us; make deps)", dir, envModelDir)
	}
	return nil
}

// maxAgentFactories bounds the agent configurations a worker keeps built.
const maxAgentFactories = 8

// agentFactories builds the pipeline of each agent configuration once per
// worker and keeps the last few (a recogniser keeps its decoders loaded
// between calls).
type agentFactories struct {
	voice voiceSettings
	log   *slog.Logger

	mu    sync.Mutex // guards built and order
	built map[string]agent.Factory
	order []string // keys, oldest first
}

func newAgentFactories(v voiceSettings, log *slog.Logger) *agentFactories {
	return &agentFactories{voice: v, log: log, built: map[string]agent.Factory{}}
}

// For returns the factory of agent a (callslot.Config.AgentFactory).
func (f *agentFactories) For(a runtimeapi.Agent) (agent.Factory, error) {
	cfg := f.config(a)
	key := struct {
		Agent                   pipeline.AgentConfig
		STT, TTS, TTSVoice      string
		Model, Prompt, Greeting string
	}{Agent: cfg.Agent, STT: cfg.STT.Name, TTS: cfg.TTS.Name, TTSVoice: cfg.TTS.Voice}
	if cfg.LLM != nil {
		key.Model, key.Prompt, key.Greeting = cfg.LLM.Model, cfg.LLM.Prompt, cfg.LLM.Greeting
	}
	b, err := json.Marshal(key)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	id := hex.EncodeToString(sum[:])
	f.mu.Lock()
	defer f.mu.Unlock()
	if fac, ok := f.built[id]; ok {
		return fac, nil
	}
	fac, err := pipeline.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", a.ID, err)
	}
	f.log.Info("agent pipeline built", "agent_id", a.ID, "language", cfg.Agent.Language, "voice", cfg.Agent.Voice,
		"steps", len(cfg.Agent.Script.Steps), "model", cfg.LLM != nil)
	if len(f.order) >= maxAgentFactories {
		old := f.order[0]
		f.order = f.order[1:]
		closeFactory(f.built[old], f.log)
		delete(f.built, old)
	}
	f.built[id] = fac
	f.order = append(f.order, id)
	return fac, nil
}

// Close frees every factory built.
func (f *agentFactories) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.order {
		closeFactory(f.built[k], f.log)
	}
	f.built, f.order = map[string]agent.Factory{}, nil
}

func closeFactory(fac agent.Factory, log *slog.Logger) {
	if c, ok := fac.(io.Closer); ok {
		if err := c.Close(); err != nil {
			log.Warn("close agent pipeline", "err", err)
		}
	}
}

// demoConfig is the pipeline configuration of the demo agent
// ($VOXFLEET_DEFAULT_AGENT=demo): the host's providers, no model, and
// pipeline.DemoScript (what the pipeline runs for an agent without a
// script).
func (f *agentFactories) demoConfig() pipeline.Config {
	cfg := f.config(runtimeapi.Agent{ID: "demo", AgentSettings: runtimeapi.AgentSettings{Language: "en-US"}})
	cfg.LLM = nil
	cfg.Agent.Script = pipeline.DemoScript
	return cfg
}

// espeakVoiceRE is what an espeak-ng voice name looks like (en-gb,
// en-us+f3); other names (alloy, a provider's voice id) are a cloud
// synthesiser's.
var espeakVoiceRE = regexp.MustCompile(`^[a-z]{2,3}(-[a-z0-9]{1,8})*(\+[a-z0-9]{1,16})?$`)

// config is the pipeline configuration of agent a on this host.
func (f *agentFactories) config(a runtimeapi.Agent) pipeline.Config {
	cfg := pipeline.Config{Kind: pipeline.KindOffline, ModelDir: f.voice.ModelDir, STT: f.voice.STT, TTS: f.voice.TTS,
		Logger: f.log, Agent: pipeline.AgentConfig{Language: a.Language, Script: agentScript(a)}}
	// espeak-ng speaks every call (alone or as the fallback): it takes the
	// agent's voice when that is one of its own, else the agent's language.
	cfg.Agent.Voice = strings.ToLower(a.Language)
	if v := strings.ToLower(a.Voice); espeakVoiceRE.MatchString(v) {
		cfg.Agent.Voice = v
	} else if cfg.TTS.Voice == "" {
		cfg.TTS.Voice = a.Voice
	}
	f.choose(a, &cfg)
	return cfg
}

// choose applies the providers agent a asks for, where this host has
// them; otherwise the host's own choice stands, and the log says so.
func (f *agentFactories) choose(a runtimeapi.Agent, cfg *pipeline.Config) {
	p := a.Providers
	unavailable := func(kind, name string) {
		f.log.Warn("the agent's provider is not configured on this host: the host's own is used", "agent_id", a.ID,
			"kind", kind, "provider", name)
	}
	switch {
	case p.STT == "" || p.STT == f.voice.STT.Name:
	case p.STT == pipeline.ProviderPocketSphinx && f.voice.LocalSTT:
		cfg.STT = pipeline.Provider{}
	default:
		unavailable("stt", p.STT)
	}
	switch {
	case p.TTS == "" || p.TTS == f.voice.TTS.Name:
	case p.TTS == pipeline.ProviderEspeak:
		cfg.TTS = pipeline.Provider{}
	default:
		unavailable("tts", p.TTS)
	}
	model := f.voice.LLM != nil && strings.TrimSpace(a.Prompt) != ""
	switch p.Brain {
	case runtimeapi.BrainScript:
		model = false
	case runtimeapi.BrainModel:
		if f.voice.LLM == nil {
			unavailable("brain", p.Brain)
		}
		model = f.voice.LLM != nil
	}
	if model {
		l := *f.voice.LLM
		l.Prompt, l.Greeting = a.Prompt, a.Greeting
		cfg.LLM = &l
	}
}

// agentScript is the script brain's form of a's greeting and script.
func agentScript(a runtimeapi.Agent) script.Script {
	s := script.Script{Greeting: a.Greeting}
	for _, st := range a.Script {
		step := script.Step{ID: st.ID, Say: st.Say, DTMF: st.DTMF, Next: st.Next, Hangup: st.Hangup,
			Field: st.Field, Transfer: st.Transfer}
		for _, r := range st.Routes {
			step.Routes = append(step.Routes, script.Route{Words: r.Words, Next: r.Next})
		}
		s.Steps = append(s.Steps, step)
	}
	return s
}

// providerName is name, or def when name is "".
func providerName(name, def string) string {
	if name == "" {
		return def
	}
	return name
}
