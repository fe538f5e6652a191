package pipeline

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/internal/testenv"
)

func offline(t *testing.T) *Offline {
	t.Helper()
	testenv.Require(t, "espeak-ng", "apt-get install espeak-ng")
	var log *slog.Logger
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	f, err := NewOffline(Config{Kind: KindOffline, Logger: log})
	if err != nil {
		testenv.Unavailable(t, err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// Three turns with the offline defaults: the caller's espeak-ng sentences
// are transcribed, the script answers by what was said, the caller
// interrupts the third reply and the agent stops, then books and hangs up.
func TestThreeTurnConversation(t *testing.T) {
	f := offline(t)
	var partials atomic.Int32
	f.tune.OnPartial = func(string, string) { partials.Add(1) }
	sink := &playSink{}
	sess, err := f.NewSession(agent.Call{ID: "conv-1"}, sink)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := sess.Start(ctx); err != nil {
		t.Fatal(err)
	}
	run(t, sess, sink, []caller{
		{When: markPlayed("reply-1"), Audio: say(t, "I would like to book an appointment")},
		{When: markPlayed("reply-2"), Audio: say(t, "My name is John Smith")},
		// Talk over the third reply, 800 ms into it.
		{When: func(h *harness) bool { return h.Marks["reply-2"] && agentTalking(800*time.Millisecond)(h) }, Audio: say(t, "in the morning please")},
	}, hungUp)
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}

	rep := sess.(agent.Reporter).Report()
	for _, u := range rep.Transcript {
		t.Logf("%-6s %v %q interrupted=%v latency=%+v", u.Speaker, u.At.Format("15:04:05.000"), u.Text, u.Interrupted, u.Latency)
	}
	clears, hangup, _ := sink.State()
	if clears != 1 {
		t.Errorf("leg cleared %d times; want 1 (the barge-in)", clears)
	}
	if !strings.Contains(hangup, "script step done") {
		t.Errorf("hangup %q; want the script's end", hangup)
	}
	var caller, agentSaid []agent.Utterance
	for _, u := range rep.Transcript {
		if u.Speaker == agent.SpeakerCaller {
			caller = append(caller, u)
		} else {
			agentSaid = append(agentSaid, u)
		}
	}
	if len(caller) != 3 || len(agentSaid) != 4 {
		t.Fatalf("%d caller and %d agent utterances; want 3 and 4", len(caller), len(agentSaid))
	}
	// The surname is the hard part for the recogniser; the first name and
	// the lead-in must be right.
	for i, want := range []string{"book an appointment", "my name is john", "morning"} {
		if !strings.Contains(caller[i].Text, want) {
			t.Errorf("caller turn %d heard as %q; want %q in it", i+1, caller[i].Text, want)
		}
	}
	for i, a := range agentSaid {
		if a.Interrupted != (i == 2) {
			t.Errorf("agent utterance %d interrupted=%v", i+1, a.Interrupted)
		}
		if i > 0 && (a.Latency == nil || a.Latency.Response <= 0 || a.Latency.EndOfTurn <= 0) {
			t.Errorf("agent reply %d has no latency: %+v", i+1, a.Latency)
		}
	}
	if !strings.HasPrefix(agentSaid[3].Text, "You are booked") {
		t.Errorf("last reply %q", agentSaid[3].Text)
	}
	if !strings.HasPrefix(rep.Fields["name"], "john") || !strings.Contains(rep.Fields["slot"], "morning") {
		t.Errorf("fields %v", rep.Fields)
	}
	if partials.Load() == 0 {
		t.Error("no partial transcript while the caller spoke")
	}
	if len(rep.BargeIns) != 1 {
		t.Errorf("barge-ins %v; want one", rep.BargeIns)
	}
}
