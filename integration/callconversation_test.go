package integration

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/store"
)

// conversationReport is the part of `voxfleet call --conversation --json`
// these tests read.
type conversationReport struct {
	CallSID string `json:"call_sid"`
	Turns   []struct {
		Said         string  `json:"said"`
		OverReply    bool    `json:"over_reply"`
		ClearMS      float64 `json:"clear_ms"`
		FirstAudioMS float64 `json:"first_audio_ms"`
		ReplyMS      int     `json:"reply_ms"`
		ExpectedMS   int     `json:"expected_ms"`
	} `json:"turns"`
	BargeIn     bool   `json:"barge_in_honoured"`
	AgentHungUp bool   `json:"agent_hung_up"`
	OK          bool   `json:"ok"`
	Problem     string `json:"problem"`
}

// callConversation runs `voxfleet call --conversation --json` through the
// fleet's nginx (the Twilio route) and returns its report and exit code.
func (f *fleet) callConversation(t *testing.T, extra ...string) (conversationReport, int) {
	t.Helper()
	ws := strings.Replace(f.nginx.URL(fleetapi.StreamPath("twilio")), "http://", "ws://", 1)
	args := append([]string{"call", "--conversation", "--json", "--url", ws, "--timeout", "90s"}, extra...)
	cmd := exec.Command(voxfleetBin, args...)
	cmd.Env = append(cmd.Environ(), "VOX_SERVICE_SECRET="+secret, "VOXFLEET_FLEET_ID="+fleetID)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var rep conversationReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("voxfleet call --conversation (exit %d): %v\nstdout: %s\nstderr: %s", code, err, stdout.String(), stderr.String())
	}
	t.Logf("voxfleet call --conversation (exit %d): %s", code, strings.TrimSpace(stdout.String()))
	return rep, code
}

// TestMakeCallConversation is `make run` + `make call` with the offline
// engines: a fleet whose calls without an agent get the demo agent
// ($VOXFLEET_DEFAULT_AGENT=demo), called through the shipped nginx site by
// `voxfleet call --conversation`. Each of the caller's three espeak-ng
// sentences gets the demo script's answer to what was said (an answer's
// length is its line's), the third is said over the agent's answer, which
// the agent clears, and the agent hangs up after booking. The same
// caller against the scripted default fails.
func TestMakeCallConversation(t *testing.T) {
	requireVoice(t)
	t.Run("demo", func(t *testing.T) {
		t.Setenv("VOXFLEET_DEFAULT_AGENT", "demo")
		f := startFleet(t, 1, 0)
		f.waitReady(1)
		if !strings.Contains(f.logText(), "calls without a configured agent get the demo agent") {
			t.Errorf("the daemon does not say which agent it runs:\n%s", tail(f.logText(), 10))
		}
		rep, code := f.callConversation(t)
		if code != 0 || !rep.OK {
			t.Fatalf("exit %d, problem %q", code, rep.Problem)
		}
		if len(rep.Turns) != 3 || !rep.BargeIn || !rep.AgentHungUp {
			t.Fatalf("report %+v: want 3 turns, the barge-in honoured and the agent's hangup", rep)
		}
		for i, tr := range rep.Turns {
			if tr.FirstAudioMS <= 0 || tr.ReplyMS <= 0 || tr.ExpectedMS <= 0 {
				t.Errorf("turn %d: %+v: want an answer timed and measured against its line", i+1, tr)
			}
			if tr.OverReply != (i == 2) || (tr.ClearMS > 0) != (i == 2) {
				t.Errorf("turn %d: %+v: want only the third over the agent, cleared", i+1, tr)
			}
		}
		// The worker's side: it stopped for the caller and its script
		// reached its last step (booked), which only "book" then a time
		// heard as such lead to.
		log := f.logText()
		for _, want := range []string{`"msg":"barge-in","component":"pipeline","call_id":"` + rep.CallSID,
			`"call_id":"` + rep.CallSID + `","reason":"agent ended the call: script step done"`} {
			if !strings.Contains(log, want) {
				t.Errorf("worker log lacks %s", want)
			}
		}
	})
	t.Run("scripted", func(t *testing.T) {
		t.Setenv("VOXFLEET_DEFAULT_AGENT", "scripted")
		f := startFleet(t, 1, 0)
		f.waitReady(1)
		rep, code := f.callConversation(t)
		if code != 1 || rep.OK || !strings.Contains(rep.Problem, "not the demo agent") {
			t.Fatalf("against the chime-and-echo agent: exit %d, problem %q; want 1 and the demo agent named", code, rep.Problem)
		}
	})
}

// TestCallConversationRecord is `make call AGENT_ID=…` against a fleet
// with a Backend: the Backend's agent (the booking script) answers, and
// the call's record in the Backend is the proof of transcription: the
// caller's three sentences as said, the agent's third reply interrupted,
// the fields extracted.
func TestCallConversationRecord(t *testing.T) {
	requireVoice(t)
	b := startBackend(t)
	f := startFleet(t, 1, 0)
	f.waitReady(1)
	rep, code := f.callConversation(t, "--agent-id", b.agentID)
	if code != 0 || !rep.OK || !rep.BargeIn {
		t.Fatalf("exit %d, problem %q, barge-in %v", code, rep.Problem, rep.BargeIn)
	}
	c, tr := b.waitCall(f, 30*time.Second, "the call's final record", rep.CallSID, func(c store.Call, tr []runtimeapi.TranscriptEntry) bool {
		return runtimeapi.Terminal(c.Status) && said(tr, runtimeapi.SpeakerAgent, "you are booked")
	})
	var caller []string
	interrupted := 0
	for _, e := range tr {
		if e.Speaker == runtimeapi.SpeakerCaller {
			caller = append(caller, e.Text)
		} else if e.Interrupted {
			interrupted++
		}
	}
	if len(caller) != 3 || interrupted != 1 {
		t.Fatalf("transcript %+v: want 3 caller entries and 1 interrupted reply", tr)
	}
	for i, want := range []string{"book", "robert", "morning"} {
		if !strings.Contains(caller[i], want) {
			t.Errorf("caller turn %d heard as %q; want %q in it", i+1, caller[i], want)
		}
	}
	if !strings.Contains(c.Fields["name"], "robert") || !strings.Contains(c.Fields["slot"], "morning") {
		t.Errorf("fields %v; want the name and the slot", c.Fields)
	}
}
