package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/voice/audio"
	"github.com/voxplatform/vox/voice/brain"
	"github.com/voxplatform/vox/voice/stt"
	"github.com/voxplatform/vox/voice/tts"
	"github.com/voxplatform/vox/voice/vad"
)

// Providers are what one call's pipeline runs on.
type Providers struct {
	STT stt.Recognizer
	// FallbackSTT takes over when STT cannot be opened or fails two turns
	// in a row; nil: turns it fails are answered as not understood.
	FallbackSTT stt.Recognizer
	TTS         tts.Synthesizer
	// FallbackTTS speaks a sentence TTS failed on; nil: the sentence is
	// skipped.
	FallbackTTS tts.Synthesizer
	// Brain decides the replies.
	Brain brain.Brain
	// Fallback answers a turn the Brain failed, stalled or timed out on;
	// nil: the apology is said instead.
	Fallback brain.Brain
}

// Tuning holds a pipeline's knobs; zero fields take the defaults in
// brackets.
type Tuning struct {
	VAD      vad.Config
	Voice    string // the synthesiser's voice ["" its default]
	Language string // BCP 47 [en-US]
	// Phrases bias the recogniser (the script's words).
	Phrases []string
	// FirstWords is how long the brain may take to its first words [4 s].
	FirstWords time.Duration
	// Stall is the longest gap between the brain's words [4 s].
	Stall time.Duration
	// STTFinal is how long the final transcript of a turn may take [4 s].
	STTFinal time.Duration
	// Apology is said when the brain failed and no fallback answered
	// ["Sorry, I am having trouble right now. Could you say that again?"].
	Apology string
	// PreRoll is the audio before the detected start of speech that is
	// still sent to the recogniser [300 ms].
	PreRoll time.Duration
	// MarkGrace is how long after its audio should have played a reply's
	// mark may take before the agent acts without it [3 s].
	MarkGrace time.Duration
	// OnPartial, when set, receives the caller's words as the recogniser
	// hears them, before the turn ends (a live view of the call). It is
	// called from the recogniser's goroutine and must not block.
	OnPartial func(callID, text string)
}

func (t Tuning) withDefaults() Tuning {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.FirstWords, 4*time.Second)
	def(&t.Stall, 4*time.Second)
	def(&t.STTFinal, 4*time.Second)
	def(&t.PreRoll, 300*time.Millisecond)
	def(&t.MarkGrace, 3*time.Second)
	if t.Apology == "" {
		t.Apology = "Sorry, I am having trouble right now. Could you say that again?"
	}
	if t.Language == "" {
		t.Language = "en-US"
	}
	return t
}

// NewSession starts the pipeline for one call: it opens nothing until
// Start. log may be nil.
func NewSession(call agent.Call, out agent.Sink, p Providers, t Tuning, log *slog.Logger) (agent.Session, error) {
	if p.STT == nil || p.TTS == nil || p.Brain == nil {
		return nil, errors.New("pipeline: STT, TTS and Brain are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t = t.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{
		call: call, out: out, p: p, t: t,
		log:    log.With("component", "pipeline", "call_id", call.ID),
		ctx:    ctx,
		cancel: cancel,
		events: make(chan any, 256),
		audio:  make(chan frame, 1024),
		done:   make(chan struct{}),
		vad:    vad.New(t.VAD, agent.SampleRate),
		up:     audio.NewResampler(agent.SampleRate, p.STT.SampleRate()),
		marks:  map[string]*reply{},
		fields: map[string]string{},
	}
	return s, nil
}

type frame struct {
	pcm []int16
	at  time.Time
}

// session is one call. The loop goroutine owns every field below "loop
// state"; the report fields are guarded by mu; speaker goroutines talk to
// the loop through events.
type session struct {
	call agent.Call
	out  agent.Sink
	p    Providers
	t    Tuning
	log  *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	events chan any
	audio  chan frame
	done   chan struct{}
	wg     sync.WaitGroup // speaker and recogniser goroutines
	start  sync.Once

	// loop state
	vad     *vad.Detector
	up      *audio.Resampler
	stream  stt.Stream
	preroll [][]int16
	turn    int       // caller turns started
	turnAt  time.Time // when the current caller turn started
	carry   string    // caller words of a turn whose reply was cut off before it spoke
	cur     *reply    // the agent's reply in progress or still playing
	replies int
	marks   map[string]*reply
	history []brain.Message
	ending  bool
	// sttFailures counts turns in a row the recogniser failed;
	// onFallback: the stream is the fallback recogniser's (or there is
	// none to fall back to).
	sttFailures int
	onFallback  bool
	brainMu     sync.Mutex // one brain call at a time (a cut-off reply may still be returning)
	closeErr    error

	mu            sync.Mutex // guards the report
	transcript    []agent.Utterance
	fields        map[string]string
	bargeIns      []time.Duration
	endReason     string
	transferredTo string
}

// Events the loop receives.
type (
	evMark  struct{ name string }
	evDTMF  struct{ digit string }
	evFinal struct {
		turn     int
		text     string
		err      error
		at       time.Time // when the turn started
		eot      time.Duration
		detected time.Time // when its end was detected
		stt      time.Duration
	}
	evReplyDone struct{ r *reply }
	evStream    struct {
		s        stt.Stream
		rate     int
		err      error
		fallback bool
	}
	evMarkLate struct{ r *reply }
)

// Start implements agent.Session: the opening line, and the recogniser.
func (s *session) Start(ctx context.Context) error {
	var err error
	s.start.Do(func() {
		s.wg.Add(1)
		go s.loop()
		s.openSTT(s.p.STT, s.p.FallbackSTT)
		s.send(startOpening{})
	})
	return err
}

type startOpening struct{}

// openSTT opens a recogniser stream in the background, or the fallback's
// when rec fails.
func (s *session) openSTT(rec, fallback stt.Recognizer) {
	opts := stt.Options{Language: s.t.Language, Phrases: s.t.Phrases, OnPartial: func(text string) {
		s.log.Debug("partial transcript", "text", text)
		if s.t.OnPartial != nil {
			s.t.OnPartial(s.call.ID, text)
		}
	}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		st, err := rec.Open(s.ctx, opts)
		if err == nil {
			s.send(evStream{s: st, rate: rec.SampleRate(), fallback: fallback == nil})
			return
		}
		if fallback == nil || s.ctx.Err() != nil {
			s.send(evStream{err: err})
			return
		}
		s.log.Warn("speech recogniser unavailable; using the fallback", "err", err)
		st, err = fallback.Open(s.ctx, opts)
		if err != nil {
			s.send(evStream{err: err})
			return
		}
		s.send(evStream{s: st, rate: fallback.SampleRate(), fallback: true})
	}()
}

// OnAudio implements agent.Session.
func (s *session) OnAudio(_ context.Context, pcm []int16) error {
	if s.ctx.Err() != nil {
		return errors.New("pipeline: session closed")
	}
	select {
	case s.audio <- frame{append([]int16(nil), pcm...), time.Now()}:
		return nil
	case <-s.done:
		return errors.New("pipeline: session closed")
	default:
		s.log.Warn("audio dropped: pipeline behind")
		return nil
	}
}

// OnDTMF implements agent.Session.
func (s *session) OnDTMF(_ context.Context, digit string) error {
	s.send(evDTMF{digit})
	return nil
}

// OnMark implements agent.Session.
func (s *session) OnMark(_ context.Context, name string) error {
	s.send(evMark{name})
	return nil
}

// Close implements agent.Session.
func (s *session) Close() error {
	s.cancel()
	s.start.Do(func() {}) // never start after Close
	s.wg.Wait()
	return s.closeErr
}

func (s *session) send(ev any) {
	select {
	case s.events <- ev:
	case <-s.ctx.Done():
	}
}

// Report implements agent.Reporter.
func (s *session) Report() agent.Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := agent.Report{
		Transcript:    append([]agent.Utterance(nil), s.transcript...),
		Fields:        map[string]string{},
		BargeIns:      append([]time.Duration(nil), s.bargeIns...),
		EndReason:     s.endReason,
		TransferredTo: s.transferredTo,
	}
	for k, v := range s.fields {
		r.Fields[k] = v
	}
	for i, u := range r.Transcript {
		if u.Latency != nil {
			l := *u.Latency
			r.Transcript[i].Latency = &l
		}
	}
	return r
}

func (s *session) loop() {
	defer s.wg.Done()
	defer close(s.done)
	defer func() {
		if s.stream != nil {
			if err := s.stream.Close(); err != nil {
				s.closeErr = fmt.Errorf("close recogniser: %w", err)
			}
		}
	}()
	for {
		select {
		case <-s.ctx.Done():
			if s.cur != nil {
				s.cur.cancel()
			}
			return
		case f := <-s.audio:
			s.onAudio(f)
		case ev := <-s.events:
			s.onEvent(ev)
		}
	}
}

func (s *session) onEvent(ev any) {
	switch ev := ev.(type) {
	case startOpening:
		s.startReply(brain.Input{}, nil, true)
	case evStream:
		if ev.err != nil {
			s.log.Error("speech recogniser unavailable", "err", ev.err)
			return
		}
		if s.ctx.Err() != nil {
			_ = ev.s.Close()
			return
		}
		if s.stream != nil {
			old := s.stream
			s.wg.Add(1)
			go func() { defer s.wg.Done(); _ = old.Close() }()
		}
		s.stream, s.onFallback = ev.s, ev.fallback
		in, _ := s.up.Rates()
		s.up = audio.NewResampler(in, ev.rate)
	case evDTMF:
		if s.ending {
			return
		}
		s.bargeIn(time.Now(), 0)
		s.addUtterance(agent.Utterance{Speaker: agent.SpeakerCaller, Text: "[key " + ev.digit + "]", At: time.Now()})
		s.history = append(s.history, brain.Message{Role: brain.RoleCaller, Text: "(pressed " + ev.digit + ")"})
		s.startReply(brain.Input{History: s.history, DTMF: ev.digit}, nil, false)
	case evFinal:
		s.onFinal(ev)
	case evMark:
		r, ok := s.marks[ev.name]
		if !ok {
			return
		}
		delete(s.marks, ev.name)
		s.played(r)
	case evMarkLate:
		if _, ok := s.marks[ev.r.mark]; ok {
			s.log.Warn("reply mark never came back; acting without it", "mark", ev.r.mark)
			delete(s.marks, ev.r.mark)
			s.played(ev.r)
		}
	case evReplyDone:
		r := ev.r
		if r.cancelled() {
			return
		}
		s.history = append(s.history, brain.Message{Role: brain.RoleAgent, Text: r.spokenText()})
		if !r.startedAudio() {
			s.played(r)
			return
		}
		s.marks[r.mark] = r
		grace := r.audioLen() + s.t.MarkGrace
		time.AfterFunc(grace, func() { s.send(evMarkLate{r}) })
	}
}

// played: the reply's audio has been heard; run the tools it left for the
// end.
func (s *session) played(r *reply) {
	if s.cur == r {
		s.cur = nil
	}
	if r.cancelled() {
		return
	}
	if to := r.transferTo; to != "" {
		tr, ok := s.out.(agent.Transferer)
		if !ok {
			s.log.Warn("transfer asked for but the leg cannot transfer", "to", to)
			return
		}
		s.ending = true
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := tr.Transfer(s.ctx, to); err != nil {
				s.log.Error("transfer failed", "to", to, "err", err)
				s.out.Hangup("transfer failed")
				return
			}
			s.mu.Lock()
			s.transferredTo = to
			s.mu.Unlock()
		}()
		return
	}
	if r.endCall != "" {
		s.ending = true
		s.mu.Lock()
		s.endReason = r.endCall
		s.mu.Unlock()
		s.out.Hangup("agent ended the call: " + r.endCall)
	}
}

func (s *session) onAudio(f frame) {
	pcm := f.pcm
	s.preroll = append(s.preroll, pcm)
	keep := max(1, int(s.t.PreRoll*agent.SampleRate/time.Second)/max(1, len(pcm)))
	if len(s.preroll) > keep+1 {
		s.preroll = s.preroll[len(s.preroll)-keep-1:]
	}
	ev := s.vad.Push(pcm)
	switch ev {
	case vad.SpeechStart:
		s.turn++
		onset := time.Duration(0)
		for _, p := range s.preroll {
			onset += time.Duration(len(p)) * time.Second / agent.SampleRate
		}
		onset = min(onset, s.vadOnset())
		s.turnAt = f.at.Add(-onset)
		s.bargeIn(f.at, onset)
		for _, p := range s.preroll {
			s.write(p)
		}
		return
	case vad.EndOfTurn, vad.Discard:
		s.write(pcm)
		s.finishTurn(ev == vad.Discard, f.at)
		return
	}
	if s.vad.Speaking() {
		s.write(pcm)
	}
}

func (s *session) vadOnset() time.Duration {
	if s.t.VAD.Onset > 0 {
		return s.t.VAD.Onset
	}
	return 60 * time.Millisecond
}

func (s *session) write(pcm []int16) {
	if s.stream == nil {
		return
	}
	if err := s.stream.Write(s.up.Process(pcm)); err != nil {
		s.log.Warn("recogniser write failed", "err", err)
	}
}

// bargeIn stops the agent: the caller started speaking (at is when the
// detector noticed, onset how much speech it needed) or pressed a key.
func (s *session) bargeIn(at time.Time, onset time.Duration) {
	r := s.cur
	if r == nil || s.ending {
		return
	}
	s.cur = nil
	r.cancel()
	if r.mark != "" {
		delete(s.marks, r.mark)
	}
	if !r.startedAudio() {
		// Nothing was said yet: the caller is still talking. What they
		// said before joins this turn.
		if r.said != "" {
			s.carry = strings.TrimSpace(s.carry + " " + r.said)
		}
		return
	}
	if err := s.out.Clear(); err != nil {
		s.log.Warn("barge-in clear failed", "err", err)
	}
	stop := time.Since(at) + onset
	r.mu.Lock()
	r.interrupted = true
	entry, text := r.entry, strings.Join(r.sentences, " ")
	r.mu.Unlock()
	s.mu.Lock()
	s.bargeIns = append(s.bargeIns, stop)
	if entry >= 0 && entry < len(s.transcript) {
		s.transcript[entry].Interrupted = true
		s.transcript[entry].Text = text
	}
	s.mu.Unlock()
	s.history = append(s.history, brain.Message{Role: brain.RoleAgent, Text: text, Interrupted: true})
	s.log.Info("barge-in", "stop_ms", stop.Milliseconds())
}

func (s *session) finishTurn(discard bool, detected time.Time) {
	st := s.stream
	turn, at := s.turn, s.turnAt
	eot := s.vad.LastTurn().EndOfTurn
	if st == nil {
		if !discard {
			s.log.Warn("caller turn with no recogniser")
			s.send(evFinal{turn: turn, at: at, eot: eot, detected: detected, err: errors.New("no recogniser")})
		}
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.ctx, s.t.STTFinal)
		defer cancel()
		begin := time.Now()
		text, err := st.Flush(ctx)
		if discard {
			return
		}
		s.send(evFinal{turn: turn, text: text, err: err, at: at, eot: eot, detected: detected, stt: time.Since(begin)})
	}()
}

func (s *session) onFinal(ev evFinal) {
	if ev.err != nil {
		s.log.Warn("no final transcript", "err", ev.err)
		s.sttFailures++
		if s.sttFailures >= 2 && !s.onFallback && s.p.FallbackSTT != nil && s.ctx.Err() == nil {
			s.log.Warn("speech recogniser failing; switching to the fallback")
			s.onFallback = true
			s.openSTT(s.p.FallbackSTT, nil)
		}
	} else {
		s.sttFailures = 0
	}
	text := strings.TrimSpace(s.carry + " " + ev.text)
	s.carry = ""
	if ev.turn != s.turn {
		// The caller spoke again before this turn was transcribed.
		s.carry = text
		return
	}
	if s.ending {
		return
	}
	if text != "" {
		s.addUtterance(agent.Utterance{Speaker: agent.SpeakerCaller, Text: text, At: ev.at})
		s.history = append(s.history, brain.Message{Role: brain.RoleCaller, Text: text})
	}
	lat := &agent.TurnLatency{EndOfTurn: ev.eot, STT: ev.stt}
	in := brain.Input{History: append([]brain.Message(nil), s.history...), Said: text}
	if text != "" {
		in.History = in.History[:len(in.History)-1]
	}
	s.startReply(in, &timing{lat: lat, detected: ev.detected}, false)
	s.cur.said = text
}

func (s *session) addUtterance(u agent.Utterance) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.transcript = append(s.transcript, u)
	return len(s.transcript) - 1
}
