package pipeline

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/voice/brain"
	"github.com/voxplatform/vox/voice/llm"
	"github.com/voxplatform/vox/voice/script"
	"github.com/voxplatform/vox/voice/stt"
	"github.com/voxplatform/vox/voice/stt/deepgram"
	"github.com/voxplatform/vox/voice/stt/openaitranscribe"
	"github.com/voxplatform/vox/voice/stt/pocketsphinx"
	"github.com/voxplatform/vox/voice/tts"
	"github.com/voxplatform/vox/voice/tts/elevenlabs"
	"github.com/voxplatform/vox/voice/tts/espeak"
	"github.com/voxplatform/vox/voice/tts/openaispeech"
)

// Kinds of agent a Factory makes.
const (
	// KindScripted is the chime-and-echo agent.Scripted, needing nothing
	// installed.
	KindScripted = "scripted"
	// KindOffline is the full pipeline on local engines: PocketSphinx,
	// espeak-ng and the agent's script.
	KindOffline = "offline"
)

// AgentConfig is what the pipeline needs of an agent's configuration.
type AgentConfig struct {
	Language string
	Voice    string
	// Script drives the script brain; its Greeting is said first.
	Script script.Script
}

// Config selects and configures the agent a worker runs.
type Config struct {
	// Kind is KindScripted (the default) or KindOffline.
	Kind   string
	Agent  AgentConfig
	Tuning Tuning
	// ModelDir overrides PocketSphinx's model directory.
	ModelDir string
	// LLM, when set, makes a language model the brain, with the script as
	// its fallback when it fails or stalls.
	LLM *llm.Config
	// STT and TTS choose cloud providers; zero values keep PocketSphinx
	// and espeak-ng. espeak-ng stays the fallback of a cloud synthesiser.
	STT    Provider
	TTS    Provider
	Logger *slog.Logger
}

// Provider names a cloud provider and how to reach it. Keys come from the
// fleet's environment, never from the Backend.
type Provider struct {
	// Name: STT "pocketsphinx" (default), "deepgram", "openai"; TTS
	// "espeak" (default), "openai", "elevenlabs".
	Name   string
	URL    string // API root (https:// or wss://); "" for the provider's own
	APIKey string
	Model  string
	Voice  string // TTS voice; "" for the agent's
}

// Providers' names.
const (
	ProviderPocketSphinx = "pocketsphinx"
	ProviderEspeak       = "espeak"
	ProviderDeepgram     = "deepgram"
	ProviderOpenAI       = "openai"
	ProviderElevenLabs   = "elevenlabs"
)

func (p Provider) url(def string) string {
	if p.URL != "" {
		return p.URL
	}
	return def
}

// New returns the agent.Factory cfg names. The worker's wiring is
//
//	factory, err := pipeline.New(cfg)
func New(cfg Config) (agent.Factory, error) {
	switch cfg.Kind {
	case "", KindScripted:
		return agent.Scripted{}, nil
	case KindOffline:
		return NewOffline(cfg)
	}
	return nil, fmt.Errorf("agent kind %q: want %q or %q", cfg.Kind, KindScripted, KindOffline)
}

// Offline is the factory of the pipeline: offline engines by default, cloud
// providers where Config chooses them. A PocketSphinx recogniser keeps
// loaded decoders between calls.
type Offline struct {
	cfg   Config
	stt   stt.Recognizer
	sttFB stt.Recognizer // PocketSphinx behind a cloud recogniser, when installed
	tts   tts.Synthesizer
	local *espeak.Synthesizer // the fallback of a cloud synthesiser
	close func() error
	log   *slog.Logger
	tune  Tuning
	llm   *llm.Client
}

// DemoScript is the script of an offline agent configured without one.
var DemoScript = script.Script{
	Greeting: "Hello, thank you for calling.",
	Steps: []script.Step{
		{ID: "ask", Say: "Would you like to book an appointment, or cancel one?", Routes: []script.Route{
			{Words: []string{"book", "appointment"}, Next: "name"},
			{Words: []string{"cancel"}, Next: "cancel"},
		}, DTMF: map[string]string{"1": "name", "2": "cancel"}},
		{ID: "name", Say: "Certainly. What is your name?", Field: "name", Next: "when"},
		{ID: "when", Say: "Thank you. Would you like a morning or an afternoon appointment?", Field: "slot", Routes: []script.Route{
			{Words: []string{"morning", "afternoon", "evening"}, Next: "done"},
		}},
		{ID: "cancel", Say: "Your appointment is cancelled. Goodbye.", Hangup: true},
		{ID: "done", Say: "You are booked. Thank you for calling, goodbye.", Hangup: true},
	},
}

// NewOffline checks the local engines are installed and returns their
// factory.
func NewOffline(cfg Config) (*Offline, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Agent.Script.Steps) == 0 && cfg.Agent.Script.Greeting == "" {
		cfg.Agent.Script = DemoScript
	}
	if err := cfg.Agent.Script.Validate(); err != nil {
		return nil, err
	}
	syn, err := espeak.New(espeak.Config{Voice: cfg.Agent.Voice})
	if err != nil {
		return nil, err
	}
	o := &Offline{cfg: cfg, tts: syn, local: syn, log: cfg.Logger, close: func() error { return nil }}
	switch p := cfg.STT; p.Name {
	case "", ProviderPocketSphinx:
		rec, err := pocketsphinx.New(pocketsphinx.Config{ModelDir: cfg.ModelDir, Logger: cfg.Logger})
		if err != nil {
			return nil, err
		}
		o.stt, o.close = rec, rec.Close
	case ProviderDeepgram:
		o.stt, err = deepgram.New(deepgram.Config{URL: p.URL, APIKey: p.APIKey, Model: p.Model})
	case ProviderOpenAI:
		o.stt, err = openaitranscribe.New(openaitranscribe.Config{BaseURL: p.url("https://api.openai.com/v1"), APIKey: p.APIKey, Model: p.Model})
	default:
		err = fmt.Errorf("speech-to-text provider %q: want pocketsphinx, deepgram or openai", p.Name)
	}
	if err == nil {
		switch p := cfg.TTS; p.Name {
		case "", ProviderEspeak:
		case ProviderOpenAI:
			o.tts, err = openaispeech.New(openaispeech.Config{BaseURL: p.url("https://api.openai.com/v1"), APIKey: p.APIKey, Model: p.Model, Voice: p.Voice})
		case ProviderElevenLabs:
			o.tts, err = elevenlabs.New(elevenlabs.Config{URL: p.URL, APIKey: p.APIKey, Model: p.Model, Voice: p.Voice})
		default:
			err = fmt.Errorf("text-to-speech provider %q: want espeak, openai or elevenlabs", p.Name)
		}
	}
	if err != nil {
		return nil, errors.Join(err, o.close())
	}
	if o.sttFB == nil && cfg.STT.Name != "" && cfg.STT.Name != ProviderPocketSphinx {
		if rec, err := pocketsphinx.New(pocketsphinx.Config{ModelDir: cfg.ModelDir, Logger: cfg.Logger}); err == nil {
			o.sttFB, o.close = rec, rec.Close
		} else {
			cfg.Logger.Warn("no offline recogniser to fall back on", "err", err)
		}
	}
	t := cfg.Tuning
	t.Phrases = append(t.Phrases, cfg.Agent.Script.Phrases()...)
	if t.Language == "" {
		t.Language = cfg.Agent.Language
	}
	o.tune = t
	if cfg.LLM != nil {
		if o.llm, err = llm.New(*cfg.LLM); err != nil {
			return nil, errors.Join(err, o.close())
		}
	}
	return o, nil
}

// NewSession implements agent.Factory.
func (o *Offline) NewSession(call agent.Call, out agent.Sink) (agent.Session, error) {
	p := Providers{STT: o.stt, FallbackSTT: o.sttFB, TTS: o.tts, Brain: script.New(o.cfg.Agent.Script)}
	if o.tts != tts.Synthesizer(o.local) {
		p.FallbackTTS = o.local
	}
	if o.llm != nil {
		p.Brain, p.Fallback = o.llm.Brain(), p.Brain
	}
	return NewSession(call, out, p, o.tune, o.log)
}

// Close frees the recogniser's decoders.
func (o *Offline) Close() error { return o.close() }

var _ brain.Brain = (*script.Brain)(nil)
