package callslot

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/runtimeapi"
)

// reportingAgent is an agent whose report the test writes.
type reportingAgent struct {
	mu  sync.Mutex // guards rep
	rep agent.Report
}

func (a *reportingAgent) NewSession(agent.Call, agent.Sink) (agent.Session, error) { return a, nil }
func (a *reportingAgent) Start(context.Context) error                              { return nil }
func (a *reportingAgent) OnAudio(context.Context, []int16) error                   { return nil }
func (a *reportingAgent) OnDTMF(context.Context, string) error                     { return nil }
func (a *reportingAgent) OnMark(context.Context, string) error                     { return nil }
func (a *reportingAgent) Close() error                                             { return nil }

func (a *reportingAgent) Report() agent.Report {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.rep
	r.Transcript = append([]agent.Utterance(nil), a.rep.Transcript...)
	r.Fields = map[string]string{}
	for k, v := range a.rep.Fields {
		r.Fields[k] = v
	}
	return r
}

func (a *reportingAgent) say(u agent.Utterance, fields map[string]string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rep.Transcript = append(a.rep.Transcript, u)
	if fields != nil {
		a.rep.Fields = fields
	}
}

// recordsOf returns the records of id so far.
func (r *records) of(id string) []CallRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []CallRecord
	for _, rec := range r.recs {
		if rec.CallID == id {
			out = append(out, rec)
		}
	}
	return out
}

// TestCallRecordCarriesTheReport: while the call runs, the settled part of
// the agent's transcript is recorded as it grows (an agent utterance
// still being spoken waits); the final record carries the whole
// transcript with its timestamps, interruption and latencies, and the
// fields, in the Backend's form.
func TestCallRecordCarriesTheReport(t *testing.T) {
	old := progressEvery
	progressEvery = 10 * time.Millisecond
	t.Cleanup(func() { progressEvery = old })
	const agentID = "0123456789abcdef01234567"
	ag := &reportingAgent{}
	recs := &records{}
	rooms := newHeldRooms()
	h := startWorker(t, func(c *Config) {
		c.Rooms, c.Recorder, c.Agents = rooms, recs, agentsOf{agentID: {ID: agentID, OrgID: "org1"}}
		c.AgentFactory = func(runtimeapi.Agent) (agent.Factory, error) { return ag, nil }
	})
	if _, err := h.client().Attach(ctxFor(t, 5*time.Second), fleetapi.AttachRequest{CallID: "rep-1", Room: "r1", AgentID: agentID}); err != nil {
		t.Fatal(err)
	}
	<-rooms.served
	t0 := time.Now().Add(-time.Minute)
	ag.say(agent.Utterance{Speaker: agent.SpeakerAgent, Text: "Hello, how can I help?", At: t0}, nil)
	time.Sleep(100 * time.Millisecond) // ten looks at the report: nothing settled yet
	for _, rec := range recs.of("rep-1") {
		if len(rec.Transcript) > 0 {
			t.Fatalf("an agent utterance still being spoken was recorded: %+v", rec.Transcript)
		}
	}
	ag.say(agent.Utterance{Speaker: agent.SpeakerCaller, Text: "book me in", At: t0.Add(2 * time.Second)}, map[string]string{"intent": "book"})
	waitFor(t, 5*time.Second, "the settled transcript recorded mid-call", func() bool {
		rs := recs.of("rep-1")
		last := rs[len(rs)-1]
		return last.Ended.IsZero() && len(last.Transcript) == 2 && last.Fields["intent"] == "book"
	})
	ag.say(agent.Utterance{Speaker: agent.SpeakerAgent, Text: "Certainly, what is your", At: t0.Add(3 * time.Second), Interrupted: true,
		Latency: &agent.TurnLatency{EndOfTurn: 500 * time.Millisecond, STT: 80 * time.Millisecond, FirstToken: time.Millisecond,
			TTS: 40 * time.Millisecond, Overhead: 9 * time.Millisecond, Response: 130 * time.Millisecond}}, nil)
	close(rooms.release)
	rec := recs.wait(t, "rep-1")
	if len(rec.Transcript) != 3 || rec.Fields["intent"] != "book" {
		t.Fatalf("final record: transcript %+v fields %v", rec.Transcript, rec.Fields)
	}
	last := rec.Transcript[2]
	if last.Seq != 2 || last.Speaker != runtimeapi.SpeakerAgent || !last.Interrupted || !last.At.Equal(t0.Add(3*time.Second)) ||
		last.Latency == nil || *last.Latency != (runtimeapi.TurnLatency{ResponseMS: 130, EndOfTurnMS: 500, STTMS: 80, LLMMS: 1, TTSMS: 40, OverheadMS: 9}) {
		t.Fatalf("last entry %+v latency %+v", last, last.Latency)
	}
	rt := rec.Runtime("http://fleet.test")
	if err := rt.Validate(); err != nil || len(rt.Transcript) != 3 || rt.Fields["intent"] != "book" {
		t.Fatalf("runtime record %+v: %v", rt, err)
	}
	// Nothing recorded after the final record.
	time.Sleep(50 * time.Millisecond)
	rs := recs.of("rep-1")
	if rs[len(rs)-1].Ended.IsZero() {
		t.Fatal("an in-progress record followed the final one")
	}
}

// TestReportWithinLimits: what the Backend would refuse is cut or left
// out, so that the record is not lost.
func TestReportWithinLimits(t *testing.T) {
	long := strings.Repeat("é", runtimeapi.MaxEntryText+10)
	rep := agent.Report{Fields: map[string]string{"ok": strings.Repeat("v", runtimeapi.MaxFieldValue+5), "bad.key": "x", "9lives": "x"}}
	for range runtimeapi.MaxTranscriptEntries + 3 {
		rep.Transcript = append(rep.Transcript, agent.Utterance{Speaker: agent.SpeakerCaller, Text: long + "\x00\xff"})
	}
	tr, fields := reportOf(rep, false)
	rec := runtimeapi.CallRecord{Status: runtimeapi.CallCompleted, Transcript: tr, Fields: fields}
	if err := rec.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(tr) != runtimeapi.MaxTranscriptEntries || len(fields) != 1 || len(fields["ok"]) != runtimeapi.MaxFieldValue {
		t.Fatalf("%d entries, fields %d", len(tr), len(fields))
	}
}

// TestJournal: a call's entry is locked while its worker lives; once the
// lock is gone (the worker died), Reap ends the call with worker_lost and
// what the last record knew, and removes the entry. A call that ended
// leaves no entry; one whose final record could not be handed on is
// recorded again, as it was.
func TestJournal(t *testing.T) {
	dir := t.TempDir()
	workerRecs, reaped := &records{}, &records{}
	worker, err := NewJournal(dir, workerRecs)
	if err != nil {
		t.Fatal(err)
	}
	daemon, err := NewJournal(dir, reaped)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	at := time.Now().Add(-time.Minute)
	rec := CallRecord{CallID: "j-1", AgentID: "0123456789abcdef01234567", Started: at, Answered: at.Add(time.Second),
		Transcript: []runtimeapi.TranscriptEntry{{Seq: 0, Speaker: runtimeapi.SpeakerCaller, Text: "hello", At: at}}}
	if err := worker.RecordCall(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if got, err := daemon.Reap(ctx); err != nil || len(got) != 0 {
		t.Fatalf("reaped a live worker's call: %v %v", got, err)
	}
	worker.unlock("j-1") // as the kernel does when the worker dies
	got, err := daemon.Reap(ctx)
	if err != nil || len(got) != 1 {
		t.Fatalf("reaped %v, %v; want the dead worker's call", got, err)
	}
	r := reaped.wait(t, "j-1")
	if r.Cause != CauseWorkerLost || r.Status() != runtimeapi.CallFailed || len(r.Transcript) != 1 || r.Reason == "" {
		t.Fatalf("reaped record %+v", r)
	}
	if rt := r.Runtime(""); rt.EndCause != runtimeapi.EndWorkerLost || rt.Validate() != nil {
		t.Fatalf("runtime record %+v", rt)
	}
	if got, _ := daemon.Reap(ctx); len(got) != 0 {
		t.Fatalf("reaped twice: %v", got)
	}

	// Ended normally: no entry left.
	rec.CallID = "j-2"
	_ = worker.RecordCall(ctx, rec)
	rec.Ended, rec.Cause = time.Now(), CauseCallerHangup
	if err := worker.RecordCall(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if got, _ := daemon.Reap(ctx); len(got) != 0 {
		t.Fatalf("reaped a call that ended: %v", got)
	}

	// The final record refused downstream: reaped later as it was.
	failing, err := NewJournal(dir, recorderFunc(func(CallRecord) error { return errors.New("disk full") }))
	if err != nil {
		t.Fatal(err)
	}
	rec.CallID = "j-3"
	if err := failing.RecordCall(ctx, rec); err == nil {
		t.Fatal("a refused record was not reported")
	}
	if got, _ := daemon.Reap(ctx); len(got) != 1 || got[0].Cause != CauseCallerHangup {
		t.Fatalf("reaped %+v; want j-3 with its own end", got)
	}
}

type recorderFunc func(CallRecord) error

func (f recorderFunc) RecordCall(_ context.Context, rec CallRecord) error { return f(rec) }
