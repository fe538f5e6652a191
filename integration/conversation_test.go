package integration

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/internal/testlivekit"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/store"
	"github.com/voxplatform/vox/svcauth"
)

// listener follows what a LiveKit caller hears: when the agent last made
// a sound.
type listener struct {
	p        *testlivekit.Participant
	seen     int
	lastLoud time.Time
	loud     int // 10 ms windows heard loud
}

func (l *listener) poll() {
	const w = testlivekit.Rate / 100
	h := l.p.Heard()
	for ; l.seen+w <= len(h); l.seen += w {
		if testlivekit.RMS(h[l.seen:l.seen+w]) >= testlivekit.LoudRMS {
			l.lastLoud = time.Now()
			l.loud++
		}
	}
}

// waitTalking waits until the agent has talked for d since after.
func (l *listener) waitTalking(f *fleet, what string, d time.Duration) {
	f.t.Helper()
	start := l.loud
	f.waitFor(30*time.Second, what, func() bool {
		l.poll()
		return time.Duration(l.loud-start)*10*time.Millisecond >= d
	})
}

// waitQuiet waits until the agent has spoken and then kept quiet for
// 1.2 s: its reply is over.
func (l *listener) waitQuiet(f *fleet, what string) {
	f.t.Helper()
	l.waitTalking(f, what, 300*time.Millisecond)
	f.waitFor(30*time.Second, what+" to end", func() bool {
		l.poll()
		return time.Since(l.lastLoud) > 1200*time.Millisecond
	})
}

// TestLiveKitConversationReachesTheBackend is the offline agent's whole
// conversation through every real part: a browser caller in a room of a
// real livekit-server reaches a real voxfleet worker through the shipped
// nginx site; the worker reads the agent from the real voxbridge and runs
// the offline pipeline (PocketSphinx, espeak-ng, the agent's script). The
// caller's espeak-ng sentences are transcribed, the script answers by what
// was said, the caller talks over the third reply and the agent stops,
// then the agent books and hangs up. The Backend's record has the
// transcript (with the interruption and per-turn latencies) and the
// fields the script extracted.
func TestLiveKitConversationReachesTheBackend(t *testing.T) {
	b := startBackend(t)
	srv := testlivekit.Start(t, testlivekit.Options{})
	t.Setenv("VOXFLEET_LIVEKIT_URL", srv.URL)
	t.Setenv("VOXFLEET_LIVEKIT_API_KEY", srv.Key)
	t.Setenv("VOXFLEET_LIVEKIT_API_SECRET", srv.Secret)
	f := startFleetWith(t, 1, 0, voxfleetBin, "--worker-log-level", "debug")
	f.waitReady(1)
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, line := range strings.Split(f.logText(), "\n") {
			if strings.Contains(line, "transcript") || strings.Contains(line, "barge") {
				t.Log(line)
			}
		}
	})

	const callID, room = "conv-widget-1", "conv-widget-1"
	body, _ := json.Marshal(fleetapi.WidgetRequest{CallID: callID, Room: room, Identity: "browser", AgentID: b.agentID, WaitTimeoutS: 20})
	if code, out := post(t, f.nginx.URL(fleetapi.PathWidget), token(t, svcauth.FleetAudience(fleetID)), string(body)); code != http.StatusAccepted {
		t.Fatalf("widget: %d %s", code, out)
	}
	tok, err := srv.Token(room, "browser", livekit.ParticipantInfo_STANDARD)
	if err != nil {
		t.Fatal(err)
	}
	p, err := testlivekit.JoinParticipant(ctxT(t, 20*time.Second), srv.URL, tok, testlivekit.JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Leave)
	l := &listener{p: p}
	say := func(text string) {
		t.Helper()
		if err := p.Play(testlivekit.Speech(t, text)); err != nil {
			t.Fatal(err)
		}
		p.PlayDone()
	}

	l.waitQuiet(f, "the greeting and the first question")
	say("I would like to book an appointment")
	l.waitQuiet(f, "the question of the name")
	say("My name is Robert")
	l.waitTalking(f, "the question of the time", 800*time.Millisecond)
	say("in the morning please") // over the agent's question
	select {
	case <-p.Disconnected():
	case <-time.After(40 * time.Second):
		t.Fatal("the agent did not end the call after booking")
	}

	// The Backend stores the status, then appends the transcript.
	c, tr := b.waitCall(f, 30*time.Second, "the call's final record in the Backend", callID, func(c store.Call, tr []runtimeapi.TranscriptEntry) bool {
		return runtimeapi.Terminal(c.Status) && said(tr, runtimeapi.SpeakerAgent, "you are booked")
	})
	for _, e := range tr {
		t.Logf("%d %-6s %s %q interrupted=%v latency=%+v", e.Seq, e.Speaker, e.At.Format("15:04:05.000"), e.Text, e.Interrupted, e.Latency)
	}
	if c.Status != runtimeapi.CallCompleted || c.EndCause != runtimeapi.EndAgentHangup || c.Carrier != runtimeapi.CarrierWidget {
		t.Fatalf("record %+v", c.CallRecord)
	}
	var caller, agentSaid []runtimeapi.TranscriptEntry
	for _, e := range tr {
		if e.Speaker == runtimeapi.SpeakerCaller {
			caller = append(caller, e)
		} else {
			agentSaid = append(agentSaid, e)
		}
	}
	if len(caller) != 3 || len(agentSaid) != 4 {
		t.Fatalf("%d caller and %d agent entries; want 3 and 4", len(caller), len(agentSaid))
	}
	for i, want := range []string{"book", "robert", "morning"} {
		if !strings.Contains(caller[i].Text, want) {
			t.Errorf("caller turn %d heard as %q; want %q in it", i+1, caller[i].Text, want)
		}
	}
	for i, a := range agentSaid {
		if a.Interrupted != (i == 2) {
			t.Errorf("agent entry %d interrupted=%v; want only the third", i+1, a.Interrupted)
		}
		if i > 0 && (a.Latency == nil || a.Latency.ResponseMS <= 0 || a.Latency.EndOfTurnMS <= 0) {
			t.Errorf("agent reply %d has no latency: %+v", i+1, a.Latency)
		}
	}
	if !strings.HasPrefix(agentSaid[3].Text, "You are booked") {
		t.Errorf("last reply %q", agentSaid[3].Text)
	}
	if !strings.Contains(c.Fields["name"], "robert") || !strings.Contains(c.Fields["slot"], "morning") {
		t.Errorf("fields %v; want the name and the slot", c.Fields)
	}
}
