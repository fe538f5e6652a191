package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/voice/audio"
	"github.com/voxplatform/vox/voice/brain"
	"github.com/voxplatform/vox/voice/tts"
)

// timing is a reply's latency being measured (nil for replies that answer
// no spoken turn).
type timing struct {
	lat      *agent.TurnLatency
	detected time.Time // when the end of the caller's turn was detected
}

// reply is one thing the agent says: the brain's answer to one turn. Its
// speaker goroutine fills it; the loop reads it.
type reply struct {
	n      int
	ctx    context.Context
	cancel context.CancelFunc
	mark   string
	said   string // the caller's words it answers (loop only)

	mu          sync.Mutex // guards the fields below
	sentences   []string   // begun to be spoken
	samples     int        // audio sent, at the leg's rate
	entry       int        // its transcript entry, -1 before its first audio
	interrupted bool
	endCall     string // end the call after it plays, with this reason
	transferTo  string // transfer the call after it plays
}

func (r *reply) cancelled() bool { return r.ctx.Err() != nil }

func (r *reply) startedAudio() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.entry >= 0
}

func (r *reply) spokenText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.sentences, " ")
}

func (r *reply) audioLen() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return time.Duration(r.samples) * time.Second / agent.SampleRate
}

// errStalled is the cause of a brain call cut off by its deadline.
var errStalled = errors.New("brain stalled")

// startReply asks the brain for a reply in a new speaker goroutine; the
// reply becomes the current one.
func (s *session) startReply(in brain.Input, tm *timing, opening bool) *reply {
	s.replies++
	ctx, cancel := context.WithCancel(s.ctx)
	r := &reply{n: s.replies, ctx: ctx, cancel: cancel, mark: fmt.Sprintf("reply-%d", s.replies), entry: -1}
	if s.cur != nil {
		s.cur.cancel()
	}
	s.cur = r
	s.wg.Add(1)
	go s.speak(r, in, tm, opening)
	return r
}

// speak runs one reply: the brain's words cut into sentences, each
// synthesised and sent as it comes, then the reply's mark.
func (s *session) speak(r *reply, in brain.Input, tm *timing, opening bool) {
	defer s.wg.Done()
	defer s.send(evReplyDone{r})

	sentences := make(chan string, 64)
	ttsDone := make(chan struct{})
	go func() {
		defer close(ttsDone)
		for text := range sentences {
			if r.cancelled() {
				continue
			}
			s.say(r, text, tm)
		}
	}()

	var sp splitter
	var firstText time.Time
	queued := 0
	queue := func(text string) {
		if queued == 0 && tm != nil && !firstText.IsZero() {
			tm.lat.FirstSentence = time.Since(firstText)
		}
		queued++
		sentences <- text
	}
	brainStart := time.Now()
	emit := func(e brain.Event) error {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		if e.Tool != nil {
			s.tool(r, e.Tool)
			return nil
		}
		if e.Text == "" {
			return nil
		}
		if firstText.IsZero() {
			firstText = time.Now()
			if tm != nil {
				tm.lat.FirstToken = firstText.Sub(brainStart)
			}
		}
		for _, sent := range sp.add(e.Text) {
			queue(sent)
		}
		return nil
	}
	err := s.think(r.ctx, s.p.Brain, in, opening, emit)
	if err != nil && !r.cancelled() {
		s.log.Warn("brain failed", "err", err, "spoken", !firstText.IsZero())
		if firstText.IsZero() && s.p.Fallback != nil {
			if err = s.think(r.ctx, s.p.Fallback, in, opening, emit); err != nil {
				s.log.Warn("fallback brain failed", "err", err)
			}
		}
		if err != nil && !r.cancelled() {
			_ = sp.flush() // a sentence cut off mid-way is not said
			if firstText.IsZero() {
				firstText = time.Now()
			}
			queue(s.t.Apology)
		}
	}
	if rest := sp.flush(); rest != "" && !r.cancelled() {
		queue(rest)
	}
	close(sentences)
	<-ttsDone
	if r.cancelled() {
		return
	}
	if r.startedAudio() {
		if err := s.out.Mark(r.mark); err != nil {
			s.log.Warn("reply mark", "err", err)
		}
	}
}

// think runs one brain call with the deadlines for its first words and
// between words.
func (s *session) think(ctx context.Context, b brain.Brain, in brain.Input, opening bool, emit func(brain.Event) error) error {
	s.brainMu.Lock()
	defer s.brainMu.Unlock()
	bctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := time.AfterFunc(s.t.FirstWords, func() { cancel(errStalled) })
	defer timer.Stop()
	watched := func(e brain.Event) error {
		timer.Reset(s.t.Stall)
		return emit(e)
	}
	var err error
	if opening {
		err = b.Opening(bctx, watched)
	} else {
		err = b.Reply(bctx, in, watched)
	}
	if errors.Is(context.Cause(bctx), errStalled) {
		return errStalled
	}
	return err
}

// tool runs what can be run at once and keeps the rest for when the reply
// has played.
func (s *session) tool(r *reply, t *brain.ToolCall) {
	switch t.Name {
	case brain.ToolRecordField:
		name, value := t.Args["name"], t.Args["value"]
		if name == "" {
			s.log.Warn("record_field without a name")
			return
		}
		s.mu.Lock()
		s.fields[name] = value
		s.mu.Unlock()
	case brain.ToolEndCall:
		reason := t.Args["reason"]
		if reason == "" {
			reason = "end_call"
		}
		r.mu.Lock()
		r.endCall = reason
		r.mu.Unlock()
	case brain.ToolTransfer:
		r.mu.Lock()
		r.transferTo = t.Args["to"]
		r.mu.Unlock()
	default:
		s.log.Warn("unknown tool", "tool", t.Name)
	}
}

// say speaks one sentence, with the fallback synthesiser if the first one
// fails before any audio.
func (s *session) say(r *reply, text string, tm *timing) {
	started, err := s.synthesize(r, s.p.TTS, text, tm)
	if err == nil || r.cancelled() {
		return
	}
	s.log.Warn("speech synthesis failed", "err", err, "started", started)
	if !started && s.p.FallbackTTS != nil {
		if _, err := s.synthesize(r, s.p.FallbackTTS, text, tm); err != nil && !r.cancelled() {
			s.log.Warn("fallback speech synthesis failed", "err", err)
		}
	}
}

// synthesize sends one sentence's audio to the leg as it is made. started
// reports whether any audio went out.
func (s *session) synthesize(r *reply, t tts.Synthesizer, text string, tm *timing) (started bool, err error) {
	down := audio.NewResampler(t.SampleRate(), agent.SampleRate)
	begin := time.Now()
	send := func(pcm []int16) error {
		if len(pcm) == 0 {
			return nil
		}
		if err := r.ctx.Err(); err != nil {
			return err
		}
		if !started {
			started = true
			s.begun(r, text, tm, begin)
		}
		if err := s.out.Audio(pcm); err != nil {
			return fmt.Errorf("send audio: %w", err)
		}
		r.mu.Lock()
		r.samples += len(pcm)
		r.mu.Unlock()
		return nil
	}
	err = t.Speak(r.ctx, text, s.t.Voice, func(pcm []int16) error { return send(down.Process(pcm)) })
	if err == nil {
		err = send(down.Flush())
	}
	return started, err
}

// begun records a sentence's first audio: the reply's transcript entry
// and, for its first sentence, the turn's latency.
func (s *session) begun(r *reply, text string, tm *timing, synthStart time.Time) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sentences = append(r.sentences, text)
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.entry < 0 {
		u := agent.Utterance{Speaker: agent.SpeakerAgent, At: now}
		if tm != nil {
			l := tm.lat
			l.TTS = now.Sub(synthStart)
			l.Response = now.Sub(tm.detected)
			l.Overhead = max(0, l.Response-l.STT-l.FirstToken-l.FirstSentence-l.TTS)
			c := *l
			u.Latency = &c
		}
		s.transcript = append(s.transcript, u)
		r.entry = len(s.transcript) - 1
	}
	s.transcript[r.entry].Text = strings.Join(r.sentences, " ")
}
