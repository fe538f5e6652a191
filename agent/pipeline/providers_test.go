package pipeline

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/internal/testenv"
	"github.com/voxplatform/vox/voice/llm"
	"github.com/voxplatform/vox/voice/llm/llmtest"
)

// oneTurn runs a call on f: the opening, one caller sentence, and the reply
// played to its end. It returns the report.
func oneTurn(t *testing.T, f agent.Factory, sentence string) agent.Report {
	t.Helper()
	return oneTurnOn(t, f, sentence, &playSink{}, nil, nil)
}

// oneTurnOn is oneTurn on a given leg: out (which may wrap sink).
func oneTurnOn(t *testing.T, f agent.Factory, sentence string, sink *playSink, out agent.Sink, until func(*harness) bool) agent.Report {
	t.Helper()
	if out == nil {
		out = sink
	}
	if until == nil {
		until = func(h *harness) bool { return h.Marks["reply-2"] || hungUp(h) }
	}
	sess, err := f.NewSession(agent.Call{ID: "turn"}, out)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := sess.Start(ctx); err != nil {
		t.Fatal(err)
	}
	run(t, sess, sink, []caller{{When: markPlayed("reply-1"), Audio: say(t, sentence)}}, until)
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}
	rep := sess.(agent.Reporter).Report()
	for _, u := range rep.Transcript {
		t.Logf("%-6s %q interrupted=%v latency=%+v", u.Speaker, u.Text, u.Interrupted, u.Latency)
	}
	return rep
}

func withLLM(t *testing.T, srv *llmtest.Server, tune Tuning) *Offline {
	t.Helper()
	testenv.Require(t, "espeak-ng", "apt-get install espeak-ng")
	f, err := NewOffline(Config{Kind: KindOffline, Tuning: tune, LLM: &llm.Config{
		BaseURL: srv.BaseURL(), Model: "test", Greeting: "Hello, how can I help?", MaxRetryWait: 100 * time.Millisecond,
	}})
	if err != nil {
		testenv.Unavailable(t, err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func lastAgent(rep agent.Report) string {
	for i := len(rep.Transcript) - 1; i >= 0; i-- {
		if rep.Transcript[i].Speaker == agent.SpeakerAgent {
			return rep.Transcript[i].Text
		}
	}
	return ""
}

// Whatever the model does, the caller gets an answer and the call goes on.
func TestProviderFailures(t *testing.T) {
	tests := []struct {
		name  string
		reply []llmtest.Reply
		want  string // prefix of the agent's answer
	}{
		{"model answers", []llmtest.Reply{{Tokens: llmtest.Words("Of course. What is your name?")}, {Tokens: llmtest.Words("Of course.")}}, "Of course. What is your name?"},
		{"slow model still answers", []llmtest.Reply{{Gap: 150 * time.Millisecond, Tokens: llmtest.Words("Of course. One moment.")}, {Tokens: llmtest.Words("Of course.")}}, "Of course. One moment."},
		{"rate limited then answers", []llmtest.Reply{{Status: 429, RetryAfter: "0"}, {Tokens: llmtest.Words("Of course.")}}, "Of course."},
		{"stalled model gives way to the script", []llmtest.Reply{{FirstDelay: time.Hour}, {Tokens: llmtest.Words("Of course.")}}, "Certainly. What is your name?"},
		{"model down gives way to the script", []llmtest.Reply{{Status: 500}}, "Certainly. What is your name?"},
		{"error mid-stream: what was said stays, then an apology", []llmtest.Reply{{Tokens: llmtest.Words("I can book that. Let me see what"), ErrorAfter: 6}, {Tokens: llmtest.Words("Of course.")}}, "I can book that. Sorry, I am having trouble"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.New(tt.reply...)
			defer srv.Close()
			f := withLLM(t, srv, Tuning{FirstWords: time.Second, Stall: time.Second})
			rep := oneTurn(t, f, "I would like to book an appointment")
			if got := lastAgent(rep); !strings.HasPrefix(got, tt.want) {
				t.Fatalf("agent said %q; want %q…", got, tt.want)
			}
		})
	}
}
