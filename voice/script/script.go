// Package script is the offline brain: the agent's script, a list of steps
// each saying something and then going on by what the caller said (words
// matched on the transcript), by a key pressed, or to a fixed next step. A
// step may record the caller's answer as a field of the call record,
// transfer the call, or end it.
//
// script imports nothing of this module outside voice/.
package script

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/voxplatform/vox/voice/brain"
)

// Step is one step of a script. Its first five fields are the Backend's
// script step; Routes, Field and Transfer extend it for spoken answers.
type Step struct {
	ID     string            `json:"id"`
	Say    string            `json:"say"`
	DTMF   map[string]string `json:"dtmf,omitempty"`
	Next   string            `json:"next,omitempty"`
	Hangup bool              `json:"hangup,omitempty"`
	// Routes go on by the caller's words: the first route one of whose
	// words or phrases occurs in what the caller said wins.
	Routes []Route `json:"routes,omitempty"`
	// Field records the caller's answer to this step under this name.
	Field string `json:"field,omitempty"`
	// Transfer sends the call to this number after Say.
	Transfer string `json:"transfer,omitempty"`
}

// Route is a spoken way out of a step.
type Route struct {
	Words []string `json:"words"`
	Next  string   `json:"next"`
}

// Script is an agent's script.
type Script struct {
	// Greeting is said first, before the first step's Say.
	Greeting string `json:"greeting"`
	Steps    []Step `json:"steps"`
	// NoMatch is said before repeating a step whose routes matched nothing
	// ["Sorry, I didn't catch that."].
	NoMatch string `json:"no_match,omitempty"`
	// Goodbye ends a call whose step leads nowhere ["Thank you for
	// calling. Goodbye."].
	Goodbye string `json:"goodbye,omitempty"`
}

var fieldRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

// Validate checks that every step id is unique and every reference known.
func (s Script) Validate() error {
	ids := map[string]bool{}
	for i, st := range s.Steps {
		if st.ID == "" || ids[st.ID] {
			return fmt.Errorf("script step %d: id %q empty or repeated", i, st.ID)
		}
		ids[st.ID] = true
		if st.Field != "" && !fieldRE.MatchString(st.Field) {
			return fmt.Errorf("script step %q: field %q is not a name", st.ID, st.Field)
		}
	}
	for _, st := range s.Steps {
		refs := []string{st.Next}
		for _, to := range st.DTMF {
			refs = append(refs, to)
		}
		for _, r := range st.Routes {
			if len(r.Words) == 0 {
				return fmt.Errorf("script step %q: a route without words", st.ID)
			}
			refs = append(refs, r.Next)
		}
		for _, r := range refs {
			if r != "" && !ids[r] {
				return fmt.Errorf("script step %q: unknown step %q", st.ID, r)
			}
		}
	}
	return nil
}

// Phrases are what a caller of this script is likely to say: the routes'
// words and the steps' own lines (callers echo them). A recogniser biases
// its vocabulary with them.
func (s Script) Phrases() []string {
	var out []string
	for _, st := range s.Steps {
		out = append(out, st.Say)
		for _, r := range st.Routes {
			out = append(out, r.Words...)
		}
	}
	return out
}

// Brain runs a Script for one call.
type Brain struct {
	s   Script
	idx map[string]int
	cur int // current step; -1 before the first
}

// New returns a Brain at the start of s. s must be valid.
func New(s Script) *Brain {
	if s.NoMatch == "" {
		s.NoMatch = "Sorry, I didn't catch that."
	}
	if s.Goodbye == "" {
		s.Goodbye = "Thank you for calling. Goodbye."
	}
	b := &Brain{s: s, idx: map[string]int{}, cur: -1}
	for i, st := range s.Steps {
		b.idx[st.ID] = i
	}
	return b
}

// Step is the id of the current step ("" before the first or without one).
func (b *Brain) Step() string {
	if b.cur < 0 {
		return ""
	}
	return b.s.Steps[b.cur].ID
}

// Opening implements brain.Brain: the greeting, then the first step.
func (b *Brain) Opening(_ context.Context, emit func(brain.Event) error) error {
	if b.s.Greeting != "" {
		if err := emit(brain.Event{Text: b.s.Greeting + " "}); err != nil {
			return err
		}
	}
	if len(b.s.Steps) == 0 {
		return nil
	}
	return b.enter(0, emit)
}

// enter says a step. A step that asks nothing (no routes, keys or field)
// and has a Next goes straight on to it, up to maxChain steps.
func (b *Brain) enter(i int, emit func(brain.Event) error) error {
	for chain := 0; ; chain++ {
		b.cur = i
		st := b.s.Steps[i]
		if st.Say != "" {
			if err := emit(brain.Event{Text: st.Say + " "}); err != nil {
				return err
			}
		}
		switch {
		case st.Transfer != "":
			return emit(brain.Event{Tool: &brain.ToolCall{Name: brain.ToolTransfer, Args: map[string]string{"to": st.Transfer}}})
		case st.Hangup:
			return emit(brain.Event{Tool: &brain.ToolCall{Name: brain.ToolEndCall, Args: map[string]string{"reason": "script step " + st.ID}}})
		case st.Next != "" && len(st.Routes) == 0 && len(st.DTMF) == 0 && st.Field == "" && chain < maxChain:
			i = b.idx[st.Next]
			continue
		}
		return nil
	}
}

// maxChain bounds steps said in a row without the caller, so a loop of
// Next steps cannot talk for ever.
const maxChain = 10

// Reply implements brain.Brain.
func (b *Brain) Reply(_ context.Context, in brain.Input, emit func(brain.Event) error) error {
	if b.cur < 0 {
		// Not opened: the script stands in for another brain mid-call, and
		// takes the caller's words as the answer to its first step.
		if len(b.s.Steps) == 0 {
			return emit(brain.Event{Text: b.s.NoMatch + " "})
		}
		b.cur = 0
	}
	st := b.s.Steps[b.cur]
	if in.DTMF != "" {
		if to, ok := st.DTMF[in.DTMF]; ok {
			return b.enter(b.idx[to], emit)
		}
		return b.reprompt(st, emit)
	}
	said := strings.TrimSpace(in.Said)
	if said == "" {
		return b.reprompt(st, emit)
	}
	if st.Field != "" {
		v := FieldValue(said)
		if err := emit(brain.Event{Tool: &brain.ToolCall{Name: brain.ToolRecordField, Args: map[string]string{"name": st.Field, "value": v}}}); err != nil {
			return err
		}
	}
	for _, r := range st.Routes {
		if Matches(said, r.Words) {
			return b.enter(b.idx[r.Next], emit)
		}
	}
	switch {
	case st.Next != "":
		return b.enter(b.idx[st.Next], emit)
	case len(st.Routes) > 0:
		return b.reprompt(st, emit)
	}
	if err := emit(brain.Event{Text: b.s.Goodbye + " "}); err != nil {
		return err
	}
	return emit(brain.Event{Tool: &brain.ToolCall{Name: brain.ToolEndCall, Args: map[string]string{"reason": "script ended"}}})
}

func (b *Brain) reprompt(st Step, emit func(brain.Event) error) error {
	return emit(brain.Event{Text: strings.TrimSpace(b.s.NoMatch+" "+st.Say) + " "})
}

// norm lower-cases text and keeps words separated by single spaces.
func norm(s string) string {
	return " " + strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	}), " ") + " "
}

// Matches reports whether any of words (a word or a phrase) occurs in said
// as whole words, ignoring case and punctuation.
func Matches(said string, words []string) bool {
	s := norm(said)
	for _, w := range words {
		if n := norm(w); n != "  " && strings.Contains(s, n) {
			return true
		}
	}
	return false
}

// lead-ins a caller puts before the answer itself.
var leadIns = []string{"my name is", "my name's", "the name is", "this is", "it is", "it's", "i am", "i'm", "call me", "yes", "well"}

// FieldValue is the answer in what the caller said: without a lead-in such
// as "my name is".
func FieldValue(said string) string {
	v := strings.TrimSpace(norm(said))
	for changed := true; changed; {
		changed = false
		for _, l := range leadIns {
			if v == l {
				continue
			}
			if strings.HasPrefix(v, l+" ") {
				v, changed = strings.TrimSpace(v[len(l):]), true
			}
		}
	}
	return v
}
