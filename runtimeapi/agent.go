package runtimeapi

import (
	"slices"
	"strings"
	"time"
)

// ScriptStep is one step of a scripted agent: say something, then go on by
// what the caller said (Routes), by DTMF digit, to Next, or hang up.
type ScriptStep struct {
	ID     string            `bson:"id" json:"id"`
	Say    string            `bson:"say" json:"say"`
	DTMF   map[string]string `bson:"dtmf,omitempty" json:"dtmf,omitempty"`
	Next   string            `bson:"next,omitempty" json:"next,omitempty"`
	Hangup bool              `bson:"hangup,omitempty" json:"hangup,omitempty"`
	// Routes go on by the caller's words: the first route one of whose
	// words or phrases occurs in what the caller said wins.
	Routes []ScriptRoute `bson:"routes,omitempty" json:"routes,omitempty"`
	// Field records the caller's answer to this step under this name in
	// the call record's fields.
	Field string `bson:"field,omitempty" json:"field,omitempty"`
	// Transfer hands the call to this E.164 number or SIP URI after Say.
	Transfer string `bson:"transfer,omitempty" json:"transfer,omitempty"`
}

// ScriptRoute is a spoken way out of a script step.
type ScriptRoute struct {
	// Words are words or short phrases, any of which selects the route.
	Words []string `bson:"words" json:"words"`
	Next  string   `bson:"next" json:"next"`
}

// AgentSettings is what an organisation configures of a voice agent and
// what a worker needs to run a call with it. The Backend's stored agent
// embeds it (the bson tags are the stored field names).
type AgentSettings struct {
	Name string `bson:"name" json:"name"`
	// Language is a BCP 47 tag such as en-GB: speech recognition and
	// synthesis use it.
	Language string `bson:"language" json:"language"`
	// Voice names the text-to-speech voice; empty: the provider's default.
	Voice string `bson:"voice" json:"voice"`
	// Greeting is said as soon as the call is answered.
	Greeting string `bson:"greeting" json:"greeting"`
	// Prompt is the language model's instructions.
	Prompt string `bson:"prompt" json:"prompt"`
	// Script drives the scripted agent (no model needed); the first step
	// follows the greeting.
	Script []ScriptStep `bson:"script" json:"script"`
	// Recording: both sides of each call are recorded and uploaded.
	Recording bool `bson:"recording" json:"recording"`
	// MaxCallSeconds ends a call that lasts longer.
	MaxCallSeconds int `bson:"max_call_seconds" json:"max_call_seconds"`
	// Providers choose the agent's speech and language providers among
	// those its fleet hosts are configured with (their keys are the
	// fleet's, never the Backend's); empty: each host's own choice.
	Providers AgentProviders `bson:"providers,omitempty" json:"providers,omitzero"`
}

// AgentProviders names the providers an agent asks for. A host without the
// one named (no key for it) uses its own choice and says so in its log: the
// call goes on.
type AgentProviders struct {
	// STT is the speech recogniser: one of STTProviders.
	STT string `bson:"stt,omitempty" json:"stt,omitempty"`
	// TTS is the synthesiser: one of TTSProviders.
	TTS string `bson:"tts,omitempty" json:"tts,omitempty"`
	// Brain decides the replies: BrainScript (the script only) or
	// BrainModel (the host's language model, the script standing by).
	Brain string `bson:"brain,omitempty" json:"brain,omitempty"`
}

// Providers an agent may name.
var (
	STTProviders = []string{"pocketsphinx", "deepgram", "openai"}
	TTSProviders = []string{"espeak", "openai", "elevenlabs"}
)

// Brains an agent may name.
const (
	BrainScript = "script"
	BrainModel  = "model"
)

// Brains lists the brains an agent may name.
var Brains = []string{BrainScript, BrainModel}

// Validate returns a *FieldError naming the first unknown provider.
func (p AgentProviders) Validate() error {
	if p.STT != "" && !slices.Contains(STTProviders, p.STT) {
		return bad("providers.stt", "must be one of %s", strings.Join(STTProviders, ", "))
	}
	if p.TTS != "" && !slices.Contains(TTSProviders, p.TTS) {
		return bad("providers.tts", "must be one of %s", strings.Join(TTSProviders, ", "))
	}
	if p.Brain != "" && !slices.Contains(Brains, p.Brain) {
		return bad("providers.brain", "must be %s or %s", BrainScript, BrainModel)
	}
	return nil
}

// Agent is the body of GET /runtime/agents/{id} and
// /runtime/agents/by-number/{e164}.
type Agent struct {
	ID    string `json:"id"`
	OrgID string `json:"org_id"`
	// UpdatedAt tells a cached copy from a newer one.
	UpdatedAt time.Time `json:"updated_at"`
	AgentSettings
}

// MaxCall is the agent's longest call as a duration.
func (a Agent) MaxCall() time.Duration { return time.Duration(a.MaxCallSeconds) * time.Second }
