package pipeline

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/voice/brain"
	"github.com/voxplatform/vox/voice/llm"
	"github.com/voxplatform/vox/voice/script"
	"github.com/voxplatform/vox/voice/stt/pocketsphinx"
	"github.com/voxplatform/vox/voice/tts/espeak"
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
	LLM    *llm.Config
	Logger *slog.Logger
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

// Offline is the factory of the offline pipeline. Its recogniser keeps
// loaded decoders between calls.
type Offline struct {
	cfg  Config
	stt  *pocketsphinx.Recognizer
	tts  *espeak.Synthesizer
	log  *slog.Logger
	tune Tuning
	llm  *llm.Client
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
	rec, err := pocketsphinx.New(pocketsphinx.Config{ModelDir: cfg.ModelDir, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	syn, err := espeak.New(espeak.Config{Voice: cfg.Agent.Voice})
	if err != nil {
		return nil, errors.Join(err, rec.Close())
	}
	t := cfg.Tuning
	t.Phrases = append(t.Phrases, cfg.Agent.Script.Phrases()...)
	if t.Language == "" {
		t.Language = cfg.Agent.Language
	}
	o := &Offline{cfg: cfg, stt: rec, tts: syn, log: cfg.Logger, tune: t}
	if cfg.LLM != nil {
		if o.llm, err = llm.New(*cfg.LLM); err != nil {
			return nil, errors.Join(err, rec.Close())
		}
	}
	return o, nil
}

// NewSession implements agent.Factory.
func (o *Offline) NewSession(call agent.Call, out agent.Sink) (agent.Session, error) {
	p := Providers{STT: o.stt, TTS: o.tts, Brain: script.New(o.cfg.Agent.Script)}
	if o.llm != nil {
		p.Brain, p.Fallback = o.llm.Brain(), p.Brain
	}
	return NewSession(call, out, p, o.tune, o.log)
}

// Close frees the recogniser's decoders.
func (o *Offline) Close() error { return o.stt.Close() }

var _ brain.Brain = (*script.Brain)(nil)
