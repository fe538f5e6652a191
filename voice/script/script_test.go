package script

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/voxplatform/vox/voice/brain"
)

// Booking is the script the tests and the benchmark use.
var booking = Script{
	Greeting: "Hello, this is the Vox clinic.",
	Steps: []Step{
		{ID: "ask", Say: "Would you like to book an appointment or cancel one?", Routes: []Route{
			{Words: []string{"book", "appointment"}, Next: "name"},
			{Words: []string{"cancel"}, Next: "cancel"},
			{Words: []string{"person", "someone"}, Next: "human"},
		}, DTMF: map[string]string{"1": "name", "2": "cancel"}},
		{ID: "name", Say: "Certainly. What is your name?", Field: "name", Next: "done"},
		{ID: "cancel", Say: "Your appointment is cancelled. Goodbye.", Hangup: true},
		{ID: "human", Say: "Putting you through.", Transfer: "+14155550100"},
		{ID: "done", Say: "Thank you, you are booked for tomorrow morning. Goodbye.", Hangup: true},
	},
}

type turn struct {
	said, dtmf string
	text       string // joined text events
	tools      []string
}

func collect(t *testing.T, f func(func(brain.Event) error) error) (text string, tools []string, args []map[string]string) {
	t.Helper()
	var parts []string
	if err := f(func(e brain.Event) error {
		if e.Tool != nil {
			tools = append(tools, e.Tool.Name)
			args = append(args, e.Tool.Args)
		} else {
			parts = append(parts, e.Text)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(strings.Join(parts, "")), tools, args
}

func TestConversations(t *testing.T) {
	if err := booking.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		turns []turn
	}{
		{"book", []turn{
			{said: "I would like to book an appointment", text: "Certainly. What is your name?"},
			{said: "my name is john smith", text: "Thank you, you are booked for tomorrow morning. Goodbye.", tools: []string{brain.ToolRecordField, brain.ToolEndCall}},
		}},
		{"cancel by key", []turn{{dtmf: "2", text: "Your appointment is cancelled. Goodbye.", tools: []string{brain.ToolEndCall}}}},
		{"no match reprompts", []turn{
			{said: "what is the weather", text: "Sorry, I didn't catch that. Would you like to book an appointment or cancel one?"},
			{said: "", text: "Sorry, I didn't catch that. Would you like to book an appointment or cancel one?"},
			{said: "Cancel it please", text: "Your appointment is cancelled. Goodbye.", tools: []string{brain.ToolEndCall}},
		}},
		{"word inside another is no match", []turn{{said: "bookkeeping", text: "Sorry, I didn't catch that. Would you like to book an appointment or cancel one?"}}},
		{"transfer", []turn{{said: "can I speak to a person", text: "Putting you through.", tools: []string{brain.ToolTransfer}}}},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(booking)
			text, _, _ := collect(t, func(emit func(brain.Event) error) error { return b.Opening(ctx, emit) })
			if text != booking.Greeting+" "+booking.Steps[0].Say {
				t.Fatalf("opening %q", text)
			}
			for i, tu := range tt.turns {
				text, tools, _ := collect(t, func(emit func(brain.Event) error) error {
					return b.Reply(ctx, brain.Input{Said: tu.said, DTMF: tu.dtmf}, emit)
				})
				if text != tu.text || !reflect.DeepEqual(tools, tu.tools) {
					t.Fatalf("turn %d: %q %v; want %q %v", i, text, tools, tu.text, tu.tools)
				}
			}
		})
	}
}

// A step that asks nothing goes straight on to its Next; a loop of such
// steps stops.
func TestChainedSteps(t *testing.T) {
	s := Script{Steps: []Step{
		{ID: "hi", Say: "Welcome.", Next: "menu"},
		{ID: "menu", Say: "Press 1 for sales.", DTMF: map[string]string{"1": "sales"}},
		{ID: "sales", Say: "Sales.", Next: "loop"},
		{ID: "loop", Say: "Again.", Next: "sales"},
	}}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	b := New(s)
	ctx := context.Background()
	text, _, _ := collect(t, func(emit func(brain.Event) error) error { return b.Opening(ctx, emit) })
	if text != "Welcome. Press 1 for sales." || b.Step() != "menu" {
		t.Fatalf("opening %q at step %q", text, b.Step())
	}
	text, _, _ = collect(t, func(emit func(brain.Event) error) error { return b.Reply(ctx, brain.Input{DTMF: "1"}, emit) })
	if n := strings.Count(text, "Sales.") + strings.Count(text, "Again."); n != maxChain+1 {
		t.Fatalf("loop said %d steps: %q", n, text)
	}
}

func TestFieldValue(t *testing.T) {
	for in, want := range map[string]string{
		"My name is John Smith.": "john smith",
		"it's Mary":              "mary",
		"yes my name is Ann":     "ann",
		"Bob":                    "bob",
	} {
		if got := FieldValue(in); got != want {
			t.Errorf("FieldValue(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	for name, s := range map[string]Script{
		"repeated id":   {Steps: []Step{{ID: "a"}, {ID: "a"}}},
		"unknown next":  {Steps: []Step{{ID: "a", Next: "b"}}},
		"unknown route": {Steps: []Step{{ID: "a", Routes: []Route{{Words: []string{"x"}, Next: "z"}}}}},
		"empty route":   {Steps: []Step{{ID: "a", Routes: []Route{{Next: "a"}}}}},
		"bad field":     {Steps: []Step{{ID: "a", Field: "no spaces allowed"}}},
	} {
		if err := s.Validate(); err == nil {
			t.Errorf("%s: valid", name)
		}
	}
}
