package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/voxplatform/vox/internal/testenv"
	"github.com/voxplatform/vox/internal/testlivekit"
	"github.com/voxplatform/vox/internal/testmongo"
	"github.com/voxplatform/vox/internal/testredis"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/store"
	"github.com/voxplatform/vox/svcauth"
	"github.com/voxplatform/vox/twilio"
	"github.com/voxplatform/vox/voice/stt/pocketsphinx"
)

// backend is a real voxbridge on its MongoDB-wire server and Redis, with
// one organisation's booking agent, which workers read through the fleet's
// $VOXFLEET_BACKEND_URL (set for the fleets the test starts next).
type backend struct {
	t       *testing.T
	st      *store.Store
	url     string
	orgID   string
	agentID string
}

// bookingScript is the booking agent's script: spoken routes, two fields,
// an end by DTMF or by the last step.
var bookingScript = []runtimeapi.ScriptStep{
	{ID: "ask", Say: "Would you like to book an appointment, or cancel one?", Routes: []runtimeapi.ScriptRoute{
		{Words: []string{"book", "appointment"}, Next: "name"}, {Words: []string{"cancel"}, Next: "cancel"}},
		DTMF: map[string]string{"1": "name", "2": "cancel", "#": "cancel"}},
	{ID: "name", Say: "Certainly. What is your name?", Field: "name", Next: "when"},
	{ID: "when", Say: "Thank you. Would you like a morning or an afternoon appointment?", Field: "slot",
		Routes: []runtimeapi.ScriptRoute{{Words: []string{"morning", "afternoon", "evening"}, Next: "done"}}},
	{ID: "cancel", Say: "Your appointment is cancelled. Goodbye.", Hangup: true},
	{ID: "done", Say: "You are booked. Thank you for calling, goodbye.", Hangup: true},
}

func startBackend(t *testing.T) *backend {
	t.Helper()
	requireVoice(t)
	mongoURI := testmongo.Start(t)
	rd := testredis.StartServer(t)
	b := &backend{t: t, url: startBridge(t, mongoURI, rd.URL(), "http://127.0.0.1:9"), orgID: store.NewID(), agentID: store.NewID()}
	st, err := store.Open(mongoURI, "vox")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	b.st = st
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := store.Insert(context.Background(), st, store.CollAgents, store.Agent{Meta: store.Meta{ID: b.agentID, OrgID: b.orgID, CreatedAt: now, UpdatedAt: now},
		AgentSettings: runtimeapi.AgentSettings{Name: "Bookings", Language: "en-US", Greeting: "Hello, thank you for calling.",
			Script: bookingScript, MaxCallSeconds: 120}}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VOXFLEET_BACKEND_URL", b.url)
	return b
}

// requireVoice fails (in CI) or skips when the offline voice engines are
// missing: the fleet's workers would run the scripted agent instead.
func requireVoice(t *testing.T) {
	t.Helper()
	testenv.Require(t, "espeak-ng", "apt-get install -y espeak-ng")
	testenv.Require(t, "sox", "apt-get install -y sox")
	if _, err := os.Stat(filepath.Join(pocketsphinx.DefaultModelDir, "en-us", "mdef")); err != nil {
		testenv.Unavailable(t, fmt.Errorf("PocketSphinx's model: %w (apt-get install -y pocketsphinx-en-us; make deps)", err))
	}
}

// call returns the Backend's record of callID and its transcript.
func (b *backend) call(callID string) (store.Call, []runtimeapi.TranscriptEntry, error) {
	ctx := context.Background()
	c, err := store.FindOne[store.Call](ctx, b.st, store.CollCalls, bson.M{"_id": callID})
	if err != nil {
		return c, nil, err
	}
	tr, err := b.st.Transcript(ctx, b.orgID, callID)
	return c, tr, err
}

// waitCall polls the Backend's record of callID until done holds.
func (b *backend) waitCall(f *fleet, d time.Duration, what, callID string, done func(store.Call, []runtimeapi.TranscriptEntry) bool) (store.Call, []runtimeapi.TranscriptEntry) {
	b.t.Helper()
	var c store.Call
	var tr []runtimeapi.TranscriptEntry
	var err error
	f.waitFor(d, what, func() bool {
		c, tr, err = b.call(callID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			b.t.Fatal(err)
		}
		return err == nil && done(c, tr)
	})
	return c, tr
}

func said(tr []runtimeapi.TranscriptEntry, speaker, words string) bool {
	for _, e := range tr {
		if e.Speaker == speaker && strings.Contains(strings.ToLower(e.Text), words) {
			return true
		}
	}
	return false
}

// speech is espeak-ng's text as 8 kHz µ-law.
func speech(t *testing.T, text string) []byte {
	t.Helper()
	return twilio.EncodeMulaw(nil, testlivekit.Speech(t, text))
}

// TestCallRecordsReachTheBackend: calls of a worker running the offline
// agent reach the Backend with what the agent knew.
//
// `voxfleet call --agent-id` (what `make call AGENT_ID=…` runs) leaves a
// completed record with the agent's transcript.
//
// A Twilio call through nginx records its transcript as it settles, so the
// Backend has what the caller said before the call ends; its worker is
// then killed (SIGKILL) mid-call, and the Backend's record still ends:
// failed, worker_lost, with the transcript it knew. The slot serves again.
func TestCallRecordsReachTheBackend(t *testing.T) {
	b := startBackend(t)
	f := startFleet(t, 1, 0)
	f.waitReady(1)

	t.Run("voxfleet call", func(t *testing.T) {
		cmd := exec.Command(voxfleetBin, "call", "--socket-dir", filepath.Join(f.dir, "s"), "--agent-id", b.agentID, "--json")
		cmd.Env = append(os.Environ(), "VOX_SERVICE_SECRET="+secret, "VOXFLEET_FLEET_ID="+fleetID)
		out, err := cmd.Output()
		var rep struct {
			CallSID string `json:"call_sid"`
			OK      bool   `json:"ok"`
			Problem string `json:"problem"`
		}
		if jerr := json.Unmarshal(out, &rep); jerr != nil || !rep.OK {
			t.Fatalf("voxfleet call: %v %s", err, out)
		}
		c, tr := b.waitCall(f, 30*time.Second, "the test call's final record", rep.CallSID, func(c store.Call, tr []runtimeapi.TranscriptEntry) bool {
			return runtimeapi.Terminal(c.Status) && said(tr, runtimeapi.SpeakerCaller, "[key #]")
		})
		if c.Status != runtimeapi.CallCompleted || !said(tr, runtimeapi.SpeakerAgent, "thank you for calling") {
			t.Fatalf("record %+v transcript %+v", c.CallRecord, tr)
		}
		f.waitReady(1)
	})

	t.Run("worker killed mid-call", func(t *testing.T) {
		killedMidCall(t, b, f)
	})
}

func killedMidCall(t *testing.T, b *backend, f *fleet) {
	ws := strings.Replace(f.nginx.URL("/ws/twilio"), "http://", "ws://", 1)
	cl, _, err := twilio.Dial(ctxT(t, 10*time.Second), twilio.ClientConfig{URL: ws, Token: token(t, svcauth.FleetAudience(fleetID)),
		CustomParameters: map[string]string{"agent_id": b.agentID}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	if err := cl.Start(); err != nil {
		t.Fatal(err)
	}
	callID := cl.CallSID()
	if _, err := cl.Wait(ctxT(t, 20*time.Second), func(s twilio.Stats) bool { return len(s.Marks) > 0 }); err != nil {
		t.Fatalf("the agent's opening never finished playing: %v", err)
	}
	if err := cl.SendAudio(ctxT(t, 20*time.Second), append(speech(t, "I would like to book an appointment"), twilio.Silence(time.Second)...), twilio.RealTime); err != nil {
		t.Fatal(err)
	}
	_, tr := b.waitCall(f, 30*time.Second, "the caller's words in the Backend mid-call", callID, func(c store.Call, tr []runtimeapi.TranscriptEntry) bool {
		return c.Status == runtimeapi.CallInProgress && said(tr, runtimeapi.SpeakerCaller, "book")
	})
	if !said(tr, runtimeapi.SpeakerAgent, "thank you for calling") {
		t.Fatalf("transcript mid-call %+v; want the greeting before the caller's words", tr)
	}

	pid := 0
	h, _ := f.health()
	for _, w := range h.Workers {
		if w.CallID == callID {
			pid = w.PID
		}
	}
	if pid == 0 {
		t.Fatalf("no worker in call %s: %+v", callID, h.Workers)
	}
	if err := killPID(pid); err != nil {
		t.Fatal(err)
	}
	c, tr := b.waitCall(f, 30*time.Second, "the killed worker's call to end in the Backend", callID, func(c store.Call, _ []runtimeapi.TranscriptEntry) bool {
		return runtimeapi.Terminal(c.Status)
	})
	if c.Status != runtimeapi.CallFailed || c.EndCause != runtimeapi.EndWorkerLost || c.EndedAt.IsZero() || c.TalkSeconds == nil ||
		c.AgentID != b.agentID || c.Carrier != runtimeapi.CarrierTwilio {
		t.Fatalf("record %+v", c.CallRecord)
	}
	if !said(tr, runtimeapi.SpeakerCaller, "book") {
		t.Fatalf("transcript %+v lost the caller's words", tr)
	}
	f.waitReady(1)
}
