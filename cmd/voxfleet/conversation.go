package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/voxplatform/vox/agent/pipeline"
	"github.com/voxplatform/vox/carrier"
	"github.com/voxplatform/vox/voice/audio"
	"github.com/voxplatform/vox/voice/tts/espeak"
)

// callerVoice is the espeak-ng voice the test caller speaks with: espeak's
// own default, unlike the agent's en-us, so that two voices talk.
const callerVoice = "en"

// conversationTurn is one thing the test caller says, and what the demo
// script answers to it.
type conversationTurn struct {
	Say string
	// Step is the pipeline.DemoScript step whose line answers Say.
	Step string
	// OverReply: Say is spoken over the agent's answer to the turn before
	// (a barge-in), which the agent must stop.
	OverReply bool
}

// demoConversation walks pipeline.DemoScript: book, give a name, and
// choose a time while the agent is still asking for it.
var demoConversation = []conversationTurn{
	{Say: "I would like to book an appointment", Step: "name"},
	{Say: "My name is Robert", Step: "when"},
	{Say: "In the morning please", Step: "done", OverReply: true},
}

// demoLine is what DemoScript's step id says ("" for none).
func demoLine(id string) string {
	for _, st := range pipeline.DemoScript.Steps {
		if st.ID == id {
			return st.Say
		}
	}
	return ""
}

// demoOpening is what the demo agent says when it answers.
func demoOpening() string {
	return pipeline.DemoScript.Greeting + " " + pipeline.DemoScript.Steps[0].Say
}

// turnReport is what one turn of a test conversation found.
type turnReport struct {
	Said      string `json:"said"`
	OverReply bool   `json:"over_reply,omitempty"`
	// ClearMS (barge-in only): from the caller's first word to the
	// agent's clear.
	ClearMS float64 `json:"clear_ms,omitempty"`
	// FirstAudioMS: from the caller's last word to the agent's first
	// audio of its answer (end of turn, recognition, script, synthesis).
	FirstAudioMS float64 `json:"first_audio_ms"`
	// ReplyMS is the answer's voiced audio; ExpectedMS that of the demo
	// script's line (Expected), as espeak-ng says it.
	ReplyMS    int    `json:"reply_ms"`
	Expected   string `json:"expected,omitempty"`
	ExpectedMS int    `json:"expected_ms,omitempty"`
}

// conversationReport is what `voxfleet call --conversation` found.
type conversationReport struct {
	Carrier     string       `json:"carrier"`
	CallSID     string       `json:"call_sid"`
	Target      string       `json:"target"`
	AgentID     string       `json:"agent_id,omitempty"`
	SetupMS     float64      `json:"setup_ms"`
	GreetingMS  int          `json:"greeting_ms"`
	Turns       []turnReport `json:"turns"`
	BargeIn     bool         `json:"barge_in_honoured"`
	AgentHungUp bool         `json:"agent_hung_up"`
	CloseCode   int          `json:"close_code"`
	OK          bool         `json:"ok"`
	Problem     string       `json:"problem,omitempty"`
}

// lengthTolerance is how far an answer's length may be from its expected
// line's and still count as that line: the script's other answers to the
// same turn (the question again after "Sorry, I didn't catch that", or a
// goodbye) differ by far more.
const lengthTolerance = 0.35

// Waits of a conversation: for an answer to begin after the caller
// stopped (end of turn, recognition and synthesis on a busy host), and for
// the agent's clear once the caller talks over it.
const (
	answerWithin = 15 * time.Second
	clearWithin  = 3 * time.Second
	// talkOverAfter is how far into the agent's answer the caller starts
	// talking over it.
	talkOverAfter = 800 * time.Millisecond
)

// conversation is one test call that talks: a mouth that sends the
// caller's audio (speech or silence) every frame, as a carrier does, and
// an ear that follows what the agent plays.
type conversation struct {
	cl    *carrier.Client
	syn   *espeak.Synthesizer
	frame int // samples per media message

	say   chan []int16   // utterances for the mouth
	began chan time.Time // when each utterance's first frame went
	ended chan time.Time // when each utterance's last frame went

	mu      sync.Mutex // guards playEnd
	playEnd time.Time  // when the agent audio received so far ends playing
}

// speech renders text in the caller's voice at 8 kHz.
func (c *conversation) speech(ctx context.Context, text, voice string) ([]int16, error) {
	var pcm []int16
	err := c.syn.Speak(ctx, text, voice, func(p []int16) error { pcm = append(pcm, p...); return nil })
	if err != nil {
		return nil, err
	}
	return audio.Resample(pcm, espeak.Rate, carrier.SampleRate), nil
}

// voicedLen is the audio of pcm that the carrier client counts as voiced:
// whole media messages holding a voiced sample.
func (c *conversation) voicedLen(pcm []int16) int {
	n := 0
	for i := 0; i < len(pcm); i += c.frame {
		if carrier.Voiced(pcm[i:min(i+c.frame, len(pcm))]) {
			n += c.frame
		}
	}
	return n
}

// trailingSilence is how long pcm goes on after its last voiced media
// message: the caller's last word ends that long before its audio does.
func (c *conversation) trailingSilence(pcm []int16) time.Duration {
	end := len(pcm)
	for end > 0 && !carrier.Voiced(pcm[max(0, end-c.frame):end]) {
		end = max(0, end-c.frame)
	}
	return time.Duration(len(pcm)-end) * time.Second / carrier.SampleRate
}

// mouth sends one media message every frame until ctx ends or the stream
// fails: the next utterance's audio when there is one, silence otherwise.
func (c *conversation) mouth(ctx context.Context) {
	tick := time.NewTicker(c.cl.FrameDuration())
	defer tick.Stop()
	silence := make([]int16, c.frame)
	var cur []int16
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		fr, last := silence, false
		if cur == nil {
			select {
			case cur = <-c.say:
				c.began <- time.Now()
			default:
			}
		}
		if cur != nil {
			fr, cur = cur[:min(c.frame, len(cur))], cur[min(c.frame, len(cur)):]
			if len(cur) == 0 {
				cur, last = nil, true
			}
		}
		if err := c.cl.SendAudio(ctx, fr, 0); err != nil {
			return
		}
		if last {
			select {
			case c.ended <- time.Now():
			case <-ctx.Done():
				return
			}
		}
	}
}

// ear follows the agent's audio as the carrier plays it: playback starts
// when audio arrives and runs at real time; a clear drops what is queued.
func (c *conversation) ear(ctx context.Context) {
	var samples, clears int
	for {
		st, err := c.cl.Wait(ctx, func(s carrier.Stats) bool { return s.Samples != samples || s.Clears != clears || s.Closed })
		if err != nil || st.Closed {
			return
		}
		now := time.Now()
		c.mu.Lock()
		if st.Clears != clears {
			c.playEnd = now
		}
		if c.playEnd.Before(now) {
			c.playEnd = now
		}
		c.playEnd = c.playEnd.Add(time.Duration(st.Samples-samples) * time.Second / carrier.SampleRate)
		c.mu.Unlock()
		samples, clears = st.Samples, st.Clears
	}
}

// playingUntil is when the agent audio received so far ends playing.
func (c *conversation) playingUntil() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.playEnd
}

// waitPlayed waits until the agent's audio received so far has played,
// and a little more, as a listener who lets the speaker finish.
func (c *conversation) waitPlayed(ctx context.Context) error {
	t := time.NewTimer(time.Until(c.playingUntil()) + 300*time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-c.cl.Done():
		return errCallEnded
	case <-t.C:
		return nil
	}
}

// errCallEnded: the stream closed while the caller still had something to
// say.
var errCallEnded = errors.New("the call ended (the agent hung up early)")

// talk hands pcm to the mouth and returns when its first frame was sent.
func (c *conversation) talk(ctx context.Context, pcm []int16) (time.Time, error) {
	select {
	case c.say <- pcm:
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	case <-c.cl.Done():
		return time.Time{}, errCallEnded
	}
	select {
	case t := <-c.began:
		return t, nil
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
}

// finished waits until the utterance being said has been sent.
func (c *conversation) finished(ctx context.Context) (time.Time, error) {
	select {
	case t := <-c.ended:
		return t, nil
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	case <-c.cl.Done():
		return time.Time{}, errCallEnded
	}
}

func msSince(t time.Time, now time.Time) float64 {
	return float64(now.Sub(t).Microseconds()) / 1000
}

// holdConversation runs demoConversation on cl's stream: it waits for the
// opening, says each turn once the agent's answer to the last has played
// (the third over the answer, which the agent must clear), checks each
// answer begins after the caller stopped and, for the demo agent (demo),
// is as long as the script's line for what was said, then waits for the
// agent to end the call. It returns the first problem ("" when none).
func holdConversation(ctx context.Context, cl *carrier.Client, demo bool, rep *conversationReport) string {
	syn, err := espeak.New(espeak.Config{})
	if err != nil {
		return "the caller speaks with espeak-ng: " + err.Error()
	}
	c := &conversation{cl: cl, syn: syn, frame: int(cl.FrameDuration() * carrier.SampleRate / time.Second),
		say: make(chan []int16), began: make(chan time.Time, 1), ended: make(chan time.Time, 1)}
	ms := func(samples int) int { return samples * 1000 / carrier.SampleRate }
	expect := func(text string) (int, error) {
		pcm, err := c.speech(ctx, text, "en-us")
		return c.voicedLen(pcm), err
	}
	checkLength := func(heard int, text string) string {
		want, err := expect(text)
		if err != nil {
			return "rendering the expected answer: " + err.Error()
		}
		if math.Abs(float64(heard-want)) > lengthTolerance*float64(want) {
			return fmt.Sprintf("heard %d ms of audio where the demo script's %q lasts %d ms", ms(heard), text, ms(want))
		}
		return ""
	}

	mctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.mouth(mctx) }()
	go func() { defer wg.Done(); c.ear(mctx) }()
	defer func() { stop(); wg.Wait() }()

	// The opening: greeting and first question, one reply and one mark.
	st, err := cl.Wait(ctx, func(s carrier.Stats) bool { return len(s.Marks) > 0 || s.Closed })
	rep.GreetingMS = ms(st.VoicedSamples)
	if err != nil || len(st.Marks) == 0 {
		return "no greeting heard"
	}
	if demo {
		if p := checkLength(st.VoicedSamples, demoOpening()); p != "" {
			return fmt.Sprintf("greeting: %s: the fleet's agent for calls without one is not the demo agent (run the fleet with $%s=demo, as make run does when the voice engines are installed)", p, envDefault)
		}
	}
	var answerAt time.Time // when the last answer's first audio arrived
	if err := c.waitPlayed(ctx); err != nil {
		return "listening to the greeting: " + err.Error()
	}
	for i, turn := range demoConversation {
		tr := turnReport{Said: turn.Say, OverReply: turn.OverReply}
		pcm, err := c.speech(ctx, turn.Say, callerVoice)
		if err != nil {
			return "the caller speaks with espeak-ng: " + err.Error()
		}
		if turn.OverReply {
			// Talk over the answer to the last turn while it plays.
			if answerAt.IsZero() {
				rep.Turns = append(rep.Turns, tr)
				return fmt.Sprintf("turn %d: no answer to talk over", i+1)
			}
			t := time.NewTimer(time.Until(answerAt.Add(talkOverAfter)))
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err().Error()
			case <-t.C:
			}
			if time.Until(c.playingUntil()) < time.Second {
				rep.Turns = append(rep.Turns, tr)
				return fmt.Sprintf("turn %d: the agent's answer ends too soon to talk over it", i+1)
			}
		}
		base := cl.Stats()
		began, err := c.talk(ctx, pcm)
		if err != nil {
			return fmt.Sprintf("turn %d: speaking: %v", i+1, err)
		}
		if turn.OverReply {
			wctx, cancel := context.WithTimeout(ctx, time.Duration(len(pcm))*time.Second/carrier.SampleRate+clearWithin)
			st, err := cl.Wait(wctx, func(s carrier.Stats) bool { return s.Clears > base.Clears || s.Closed })
			cancel()
			if err != nil || st.Clears == base.Clears {
				rep.Turns = append(rep.Turns, tr)
				return fmt.Sprintf("turn %d: the agent did not stop when the caller talked over it (no clear)", i+1)
			}
			tr.ClearMS = msSince(began, time.Now())
			base = st
		}
		ended, err := c.finished(ctx)
		if err != nil {
			return fmt.Sprintf("turn %d: speaking: %v", i+1, err)
		}
		now := cl.Stats()
		if now.VoicedSamples > base.VoicedSamples {
			rep.Turns = append(rep.Turns, tr)
			if turn.OverReply {
				return fmt.Sprintf("turn %d: the agent went on talking after its clear, before the caller stopped", i+1)
			}
			return fmt.Sprintf("turn %d: the agent talked before the caller stopped", i+1)
		}
		if turn.OverReply {
			rep.BargeIn = true
		}
		before := now.VoicedSamples
		wctx, cancel := context.WithTimeout(ctx, answerWithin)
		st, err = cl.Wait(wctx, func(s carrier.Stats) bool { return s.VoicedSamples > before || s.Closed })
		cancel()
		if err != nil || st.VoicedSamples == before {
			rep.Turns = append(rep.Turns, tr)
			return fmt.Sprintf("turn %d: no answer within %s of the caller's end of speech", i+1, answerWithin)
		}
		answerAt = time.Now()
		tr.FirstAudioMS = msSince(ended.Add(-c.trailingSilence(pcm)), answerAt)
		// The whole answer: its mark follows its last audio.
		marks := len(now.Marks)
		st, err = cl.Wait(ctx, func(s carrier.Stats) bool { return len(s.Marks) > marks || s.Closed })
		if err != nil || len(st.Marks) == marks {
			rep.Turns = append(rep.Turns, tr)
			return fmt.Sprintf("turn %d: the answer did not end (no mark after it)", i+1)
		}
		tr.ReplyMS = ms(st.VoicedSamples - before)
		tr.Expected = demoLine(turn.Step)
		if demo {
			want, err := expect(tr.Expected)
			if err == nil {
				tr.ExpectedMS = ms(want)
			}
			if p := checkLength(st.VoicedSamples-before, tr.Expected); p != "" {
				rep.Turns = append(rep.Turns, tr)
				return fmt.Sprintf("turn %d: %s: the agent answered something else (it misheard the caller)", i+1, p)
			}
		}
		rep.Turns = append(rep.Turns, tr)
		if i < len(demoConversation)-1 && !demoConversation[i+1].OverReply {
			if err := c.waitPlayed(ctx); err != nil {
				return err.Error()
			}
		}
	}
	// The script's last step hangs up once its goodbye has played.
	wctx, cancel := context.WithTimeout(ctx, time.Until(c.playingUntil())+hangupAfter)
	st, err = cl.Wait(wctx, func(s carrier.Stats) bool { return s.Closed })
	cancel()
	if err == nil {
		rep.AgentHungUp, rep.CloseCode = true, st.CloseCode
		return ""
	}
	if err := cl.Stop(); err != nil {
		return "hanging up: " + err.Error()
	}
	st, _ = cl.Wait(ctx, func(s carrier.Stats) bool { return s.Closed })
	rep.CloseCode = st.CloseCode
	if demo {
		return "the agent did not end the call after its goodbye"
	}
	return ""
}

// printConversation writes rep for people.
func printConversation(w io.Writer, rep conversationReport) {
	who := "the demo agent"
	if rep.AgentID != "" {
		who = "agent " + rep.AgentID
	}
	fmt.Fprintf(w, "%s call %s via %s: a conversation with %s\n  answered in %.1f ms; greeting heard: %d ms of audio\n",
		rep.Carrier, rep.CallSID, rep.Target, who, rep.SetupMS, rep.GreetingMS)
	for i, t := range rep.Turns {
		over := ""
		if t.OverReply {
			over = " (over the agent's answer)"
		}
		fmt.Fprintf(w, "  turn %d: said %q%s\n", i+1, t.Said, over)
		if t.ClearMS > 0 {
			fmt.Fprintf(w, "          barge-in honoured: the agent cleared its audio %.0f ms after the caller began, and stayed quiet\n", t.ClearMS)
		}
		if t.FirstAudioMS > 0 {
			fmt.Fprintf(w, "          agent's first audio %.0f ms after the caller's last word; %d ms of answer", t.FirstAudioMS, t.ReplyMS)
			if t.ExpectedMS > 0 {
				fmt.Fprintf(w, " (the script's %q: %d ms)", t.Expected, t.ExpectedMS)
			}
			fmt.Fprintln(w)
		}
	}
	switch {
	case rep.AgentHungUp:
		fmt.Fprintf(w, "  ended by the agent after its goodbye (close code %d)\n", rep.CloseCode)
	case len(rep.Turns) == len(demoConversation) && rep.Problem == "":
		fmt.Fprintf(w, "  ended by the caller (close code %d)\n", rep.CloseCode)
	}
	if rep.Problem != "" {
		fmt.Fprintf(w, "  PROBLEM: %s\n", rep.Problem)
		return
	}
	if rep.AgentID != "" {
		fmt.Fprintf(w, "  the Backend's record of call %s holds the transcript and the fields\n", rep.CallSID)
	}
	fmt.Fprintln(w, "  OK: every turn answered, the barge-in honoured")
}

// placeConversation dials and holds the conversation.
func placeConversation(ctx context.Context, proto *carrier.Protocol, cfg carrier.ClientConfig, demo bool, rep *conversationReport) string {
	start := time.Now()
	cl, resp, err := carrier.Dial(ctx, proto, cfg)
	if err != nil {
		if resp != nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return fmt.Sprintf("refused: %s %s", resp.Status, strings.TrimSpace(string(b)))
		}
		return err.Error()
	}
	defer cl.Close()
	rep.SetupMS = float64(time.Since(start).Microseconds()) / 1000
	rep.CallSID = cl.CallID()
	if err := cl.Start(); err != nil {
		return err.Error()
	}
	return holdConversation(ctx, cl, demo, rep)
}
