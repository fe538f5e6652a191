// Package brain is the interface of what decides the agent's words: the
// script (package script) or a language model (package llm). A Brain is
// made for one call; the pipeline asks it for an opening line when the call
// is answered and for a reply after each caller turn. A reply streams:
// pieces of text as they are produced and tool calls (end the call,
// transfer it, record a field).
//
// brain imports nothing of this module.
package brain

import "context"

// Roles of a Message.
const (
	RoleCaller = "user"
	RoleAgent  = "assistant"
)

// Message is one turn of the conversation so far.
type Message struct {
	Role string
	Text string
	// Interrupted: the caller cut the agent off while it said this.
	Interrupted bool
}

// Names of the tools a brain may call.
const (
	ToolEndCall     = "end_call"     // no arguments; "reason" optional
	ToolTransfer    = "transfer"     // "to": a phone number or SIP URI
	ToolRecordField = "record_field" // "name", "value"
)

// ToolCall is a tool the brain wants run.
type ToolCall struct {
	Name string
	Args map[string]string
}

// Event is one piece of a reply: text to say, or a tool to run.
type Event struct {
	// Text continues the reply: pieces are joined as they are, so a brain
	// that emits whole sentences ends each with a space.
	Text string
	Tool *ToolCall
}

// Input is what the caller did this turn.
type Input struct {
	// History is the conversation before this turn.
	History []Message
	// Said is what the caller said ("" if nothing was understood).
	Said string
	// DTMF is a key the caller pressed instead of speaking.
	DTMF string
}

// Brain is one call's decision maker. Its methods are called from one
// goroutine at a time.
type Brain interface {
	// Opening is what the agent says when the call is answered.
	Opening(ctx context.Context, emit func(Event) error) error
	// Reply answers the caller's turn, calling emit for each piece as it is
	// produced. It returns when the reply is complete, ctx ends, or emit
	// fails.
	Reply(ctx context.Context, in Input, emit func(Event) error) error
}

// ToolSpecs describes the tools in the JSON-schema form chat APIs take.
var ToolSpecs = []map[string]any{
	tool(ToolEndCall, "End the call, after saying goodbye.", map[string]any{
		"reason": map[string]any{"type": "string", "description": "why the call ends"},
	}),
	tool(ToolTransfer, "Transfer the caller to a person at a phone number.", map[string]any{
		"to": map[string]any{"type": "string", "description": "E.164 phone number or SIP URI"},
	}, "to"),
	tool(ToolRecordField, "Record a piece of information the caller gave, for the call record.", map[string]any{
		"name":  map[string]any{"type": "string", "description": "field name, e.g. name, email, intent"},
		"value": map[string]any{"type": "string"},
	}, "name", "value"),
}

func tool(name, desc string, props map[string]any, required ...string) map[string]any {
	params := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		params["required"] = required
	}
	return map[string]any{"type": "function", "function": map[string]any{
		"name": name, "description": desc, "parameters": params,
	}}
}
