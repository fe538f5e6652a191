package callslot

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/lifeline"
	"github.com/voxplatform/vox/recording"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/runtimeclient"
	"github.com/voxplatform/vox/spool"
)

// records keeps every call record a worker reports.
type records struct {
	mu   sync.Mutex // guards recs
	recs []CallRecord
}

func (r *records) RecordCall(_ context.Context, rec CallRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
	return nil
}

func (r *records) wait(t *testing.T, id string) CallRecord {
	t.Helper()
	var got CallRecord
	waitFor(t, 10*time.Second, "record of "+id, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, rec := range r.recs {
			if rec.CallID == id && !rec.Ended.IsZero() {
				got = rec
				return true
			}
		}
		return false
	})
	return got
}

// An attached call is carried by the same lifecycle as a stream: a caller
// gone silent is flagged stalled, then the call ends with no_media; a call
// that runs too long ends with max_duration; each leaves a record with its
// cause.
func TestAttachedCallLifecycle(t *testing.T) {
	tests := []struct {
		name        string
		mod         func(*Config)
		wantCause   EndCause
		wantOutcome string
		wantStatus  string
		stalled     bool
	}{
		{"silent caller", func(c *Config) { c.StallAfter, c.StallEnd = 150*time.Millisecond, 600*time.Millisecond },
			CauseNoMedia, lifeline.OutcomeFailed, runtimeapi.CallFailed, true},
		{"max duration", func(c *Config) { c.MaxCallDuration = 300 * time.Millisecond },
			CauseMaxDuration, lifeline.OutcomeCompleted, runtimeapi.CallCompleted, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs := &records{}
			rooms := newHeldRooms()
			h := startWorker(t, func(c *Config) {
				c.Rooms, c.Recorder = rooms, recs
				tt.mod(c)
			})
			r, err := h.client().Attach(ctxFor(t, 5*time.Second), fleetapi.AttachRequest{CallID: "c1", Room: "r1", AgentID: "0123456789abcdef01234567"})
			if err != nil || r.Status != fleetapi.CallAccepted {
				t.Fatalf("attach: %+v, %v", r, err)
			}
			<-rooms.served
			rec := recs.wait(t, "c1")
			if rec.Cause != tt.wantCause || rec.Outcome != tt.wantOutcome || rec.Source != "attach" || rec.AgentID != "0123456789abcdef01234567" ||
				rec.Answered.IsZero() || !rec.Ended.After(rec.Answered) {
				t.Fatalf("record %+v; want cause %s outcome %s", rec, tt.wantCause, tt.wantOutcome)
			}
			var statuses []string
			recs.mu.Lock()
			for _, r := range recs.recs {
				statuses = append(statuses, r.Status())
			}
			recs.mu.Unlock()
			if want := []string{runtimeapi.CallRinging, runtimeapi.CallInProgress, tt.wantStatus}; !slices.Equal(statuses, want) {
				t.Fatalf("record statuses %v; want %v", statuses, want)
			}
			rt := rec.Runtime("http://fleet.example")
			if err := rt.Validate(); err != nil || rt.Carrier != runtimeapi.CarrierSIP || rt.EndCause != string(tt.wantCause) ||
				rt.TalkSeconds == nil || rt.FleetURL != "http://fleet.example" {
				t.Fatalf("runtime record %+v, %v", rt, err)
			}
			stalled := false
			for _, e := range h.eventsCopy() {
				if e.Kind == lifeline.KindStalled && e.CallID == "c1" && e.Stalled {
					stalled = true
				}
			}
			if stalled != tt.stalled {
				t.Fatalf("stalled event seen %v; want %v", stalled, tt.stalled)
			}
			if e := h.waitEvent(lifeline.KindCallEnd, "c1"); e.Outcome != tt.wantOutcome {
				t.Fatalf("call_end %+v", e)
			}
			h.waitState(fleetapi.WorkerIdle)
		})
	}
}

// A leg that cannot be made frees the slot at once.
func TestAttachLegRefused(t *testing.T) {
	h := startWorker(t, func(c *Config) { c.Rooms = refusingRooms{} })
	_, err := h.client().Attach(ctxFor(t, 5*time.Second), fleetapi.AttachRequest{CallID: "c1", Room: "r1"})
	if fleetapi.StatusOf(err) != http.StatusUnprocessableEntity {
		t.Fatalf("attach: %v; want 422", err)
	}
	if hl := h.health(); hl.State != fleetapi.WorkerIdle {
		t.Fatalf("slot kept: %+v", hl)
	}
}

type refusingRooms struct{ RoomMedia }

func (refusingRooms) AttachLeg(fleetapi.AttachRequest) (Leg, error) {
	return nil, context.DeadlineExceeded
}

func TestEndCauseOutcome(t *testing.T) {
	completed := map[EndCause]bool{CauseCallerHangup: true, CauseAgentHangup: true, CauseMaxDuration: true, CauseRoomDeleted: true}
	for _, c := range []EndCause{CauseCallerHangup, CauseAgentHangup, CauseMaxDuration, CauseRoomDeleted, CauseNoMedia,
		CauseNoAnswer, CauseSetupFailed, CauseLost, CauseProtocol, CauseAgentError} {
		want := lifeline.OutcomeFailed
		if completed[c] {
			want = lifeline.OutcomeCompleted
		}
		if got := c.Outcome(); got != want {
			t.Errorf("%s.Outcome() = %s; want %s", c, got, want)
		}
	}
}

// agentsOf serves fixed agent configurations, as the Backend would.
type agentsOf map[string]runtimeapi.Agent

func (a agentsOf) Agent(_ context.Context, id string) (runtimeapi.Agent, runtimeclient.Source, error) {
	cfg, ok := a[id]
	if !ok {
		return cfg, "", errors.New("no such agent")
	}
	return cfg, runtimeclient.FromBackend, nil
}

func (a agentsOf) AgentByNumber(context.Context, string) (runtimeapi.Agent, runtimeclient.Source, error) {
	return runtimeapi.Agent{}, "", errors.New("no number")
}

// TestAgentConfigAppliedAndRecorded: the agent's maximum call length ends
// the call, its recording flag records both sides into a stereo WAV whose
// upload is spooled with the call's final status; an agent the Backend
// does not know fails the call cleanly and frees the slot.
func TestAgentConfigAppliedAndRecorded(t *testing.T) {
	const recAgent, unknown = "0123456789abcdef01234567", "76543210fedcba9876543210"
	agents := agentsOf{recAgent: {ID: recAgent, OrgID: "org1",
		AgentSettings: runtimeapi.AgentSettings{Recording: true, MaxCallSeconds: 1}}}
	dir := t.TempDir()
	sp, err := spool.Open(filepath.Join(dir, "uploads"))
	if err != nil {
		t.Fatal(err)
	}
	uploads := &recording.Uploader{Dir: filepath.Join(dir, "recordings"), Spool: sp}
	recs := &records{}
	rooms := newHeldRooms()
	var made atomic.Int32
	h := startWorker(t, func(c *Config) {
		c.Rooms, c.Recorder, c.Agents, c.Recordings = rooms, recs, agents, uploads
		c.AgentFactory = func(a runtimeapi.Agent) (agent.Factory, error) {
			if a.ID != recAgent {
				return nil, errors.New("wrong agent")
			}
			made.Add(1)
			return agent.Scripted{}, nil
		}
	})

	if _, err := h.client().Attach(ctxFor(t, 5*time.Second), fleetapi.AttachRequest{CallID: "rec-1", Room: "r1", AgentID: recAgent}); err != nil {
		t.Fatal(err)
	}
	rec := recs.wait(t, "rec-1")
	if rec.Cause != CauseMaxDuration || rec.Ended.Sub(rec.Answered) > 3*time.Second {
		t.Fatalf("record %+v; want ended by the agent's 1 s maximum", rec)
	}
	b, err := sp.Get("rec-1")
	if err != nil {
		t.Fatalf("no recording upload spooled: %v", err)
	}
	var job recording.Job
	if err := json.Unmarshal(b, &job); err != nil || job.Status != runtimeapi.CallCompleted || job.OrgID != "org1" ||
		!strings.HasPrefix(job.Key, "recordings/org1/") {
		t.Fatalf("job %+v, %v", job, err)
	}
	if st, err := os.Stat(job.Path); err != nil || st.Size() <= 44 {
		t.Fatalf("recording %s: %v (size %v)", job.Path, err, st)
	}
	h.waitState(fleetapi.WorkerIdle)
	if made.Load() != 1 {
		t.Fatalf("the agent's own factory made %d sessions; want 1", made.Load())
	}

	if _, err := h.client().Attach(ctxFor(t, 5*time.Second), fleetapi.AttachRequest{CallID: "rec-2", Room: "r2", AgentID: unknown}); err != nil {
		t.Fatal(err)
	}
	rec = recs.wait(t, "rec-2")
	if rec.Cause != CauseSetupFailed || rec.Status() != runtimeapi.CallFailed {
		t.Fatalf("record %+v; want setup_failed", rec)
	}
	h.waitState(fleetapi.WorkerIdle)
}
