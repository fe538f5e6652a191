package pocketsphinx

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/voxplatform/vox/voice/stt"
)

// telephoneCMN is the decoder's cepstral mean after a few turns of
// band-filled 8 kHz speech (measured on espeak-ng fixtures).
var telephoneCMN = []float32{62, -24, -1.5, 1.5, -1.2, -6.8, -1, -10.6, -6.2, -0.6, 1, 0, -2.3}

// DefaultModelDir is where Debian's pocketsphinx-en-us puts the model.
const DefaultModelDir = "/usr/share/pocketsphinx/model/en-us"

// Config configures a Recognizer; zero fields take defaults.
type Config struct {
	// ModelDir holds en-us/ (acoustic model), en-us.lm.bin and
	// cmudict-en-us.dict [DefaultModelDir].
	ModelDir string
	// BandFill is the RMS level of the noise put in the empty 4–8 kHz band
	// of narrowband audio [400]; negative turns it off.
	BandFill float64
	// Narrowband says the audio written was telephone audio (8 kHz before
	// resampling) [true unless Wideband].
	Wideband bool
	// Args are further decoder arguments ("-lw", "10", …) for tuning.
	Args []string
	// Logger; nil discards.
	Logger *slog.Logger
}

// Recognizer is the PocketSphinx provider. It keeps idle decoders for reuse
// (loading one takes a moment) and builds each script's language model once.
type Recognizer struct {
	cfg Config
	log *slog.Logger
	dir string // language models built here

	mu   sync.Mutex            // guards the fields below
	dict map[string][]string   // the full dictionary, loaded on first use
	lms  map[string][2]string  // phrases key → lm, dict paths
	idle map[string][]*decoder // phrases key → decoders not in use
	dec  int                   // decoders created
}

// New checks the model is installed and returns a Recognizer. Close removes
// its files.
func New(cfg Config) (*Recognizer, error) {
	if cfg.ModelDir == "" {
		cfg.ModelDir = DefaultModelDir
	}
	if cfg.BandFill == 0 {
		cfg.BandFill = 400
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	for _, f := range []string{"en-us/mdef", "en-us.lm.bin", "cmudict-en-us.dict"} {
		if _, err := os.Stat(filepath.Join(cfg.ModelDir, f)); err != nil {
			return nil, fmt.Errorf("pocketsphinx model: %w (apt-get install pocketsphinx-en-us)", err)
		}
	}
	dir, err := os.MkdirTemp("", "vox-pocketsphinx-")
	if err != nil {
		return nil, fmt.Errorf("pocketsphinx: %w", err)
	}
	return &Recognizer{cfg: cfg, log: cfg.Logger.With("component", "pocketsphinx"), dir: dir,
		lms: map[string][2]string{}, idle: map[string][]*decoder{}}, nil
}

// SampleRate implements stt.Recognizer: the en-us model is 16 kHz.
func (r *Recognizer) SampleRate() int { return 16000 }

// Close frees idle decoders and the built models.
func (r *Recognizer) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ds := range r.idle {
		for _, d := range ds {
			d.free()
		}
	}
	r.idle = map[string][]*decoder{}
	return os.RemoveAll(r.dir)
}

// args returns the decoder arguments for a phrase set, building its
// language model the first time.
func (r *Recognizer) args(phrases []string) (key string, args []string, err error) {
	m := r.cfg.ModelDir
	args = []string{"-hmm", filepath.Join(m, "en-us"), "-logfn", "/dev/null", "-remove_noise", "no", "-remove_silence", "no"}
	args = append(args, r.cfg.Args...)
	if len(phrases) == 0 {
		return "", append(args, "-lm", filepath.Join(m, "en-us.lm.bin"), "-dict", filepath.Join(m, "cmudict-en-us.dict")), nil
	}
	sum := sha256.Sum256([]byte(strings.Join(phrases, "\n")))
	key = hex.EncodeToString(sum[:8])
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.lms[key]; ok {
		return key, append(args, "-lm", p[0], "-dict", p[1]), nil
	}
	if r.dict == nil {
		if r.dict, err = loadDict(filepath.Join(m, "cmudict-en-us.dict")); err != nil {
			return "", nil, err
		}
	}
	p := [2]string{filepath.Join(r.dir, key+".lm"), filepath.Join(r.dir, key+".dict")}
	// The script's phrases count three times: they are what this agent's
	// callers say most.
	sentences := append([]string(nil), baseCorpus...)
	for range 3 {
		sentences = append(sentences, phrases...)
	}
	// A script that asks for a name gets the common names.
	if slices.ContainsFunc(phrases, func(p string) bool { return slices.Contains(words(p), "name") }) {
		sentences = append(sentences, nameSentences()...)
	}
	n, err := buildLM(sentences, r.dict, p[0], p[1])
	if err != nil {
		return "", nil, fmt.Errorf("pocketsphinx language model: %w", err)
	}
	r.log.Info("built language model", "words", n, "phrases", len(phrases))
	r.lms[key] = p
	return key, append(args, "-lm", p[0], "-dict", p[1]), nil
}

func (r *Recognizer) take(key string, args []string) (*decoder, error) {
	r.mu.Lock()
	if ds := r.idle[key]; len(ds) > 0 {
		d := ds[len(ds)-1]
		r.idle[key] = ds[:len(ds)-1]
		r.mu.Unlock()
		return d, nil
	}
	r.dec++
	r.mu.Unlock()
	start := time.Now()
	d, err := newDecoder(append([]string{"vox"}, args...))
	if err == nil && !r.cfg.Wideband && r.cfg.BandFill > 0 {
		// Start from the cepstral mean the decoder settles on for
		// band-filled telephone speech, not the wideband one the model
		// ships with, or the first turn is decoded badly.
		if err = d.setCMN(telephoneCMN); err != nil {
			d.free()
			return nil, err
		}
	}
	if err == nil {
		r.log.Debug("decoder loaded", "ms", time.Since(start).Milliseconds())
	}
	return d, err
}

func (r *Recognizer) give(key string, d *decoder) {
	if d.inUtt {
		_, _ = d.end()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.idle[key]) >= 2 {
		d.free()
		return
	}
	r.idle[key] = append(r.idle[key], d)
}

// Open implements stt.Recognizer.
func (r *Recognizer) Open(ctx context.Context, opts stt.Options) (stt.Stream, error) {
	if !strings.HasPrefix(strings.ToLower(opts.Language), "en") && opts.Language != "" {
		return nil, fmt.Errorf("pocketsphinx: no model for language %q (en-US only)", opts.Language)
	}
	key, args, err := r.args(opts.Phrases)
	if err != nil {
		return nil, err
	}
	d, err := r.take(key, args)
	if err != nil {
		return nil, err
	}
	s := &stream{r: r, key: key, d: d, opts: opts, in: make(chan request, 1024), done: make(chan struct{}),
		rng: rand.New(rand.NewPCG(1, 7))} // the same noise every call: decoding is repeatable
	if !r.cfg.Wideband && r.cfg.BandFill > 0 {
		s.fill = r.cfg.BandFill
	}
	go s.run()
	return s, nil
}

type request struct {
	pcm   []int16
	flush chan result
}

type result struct {
	text string
	err  error
}

type stream struct {
	r    *Recognizer
	key  string
	d    *decoder // owned by run
	opts stt.Options
	in   chan request
	done chan struct{}

	fill float64
	rng  *rand.Rand // used by Write only (the pipeline's goroutine)
	prev float64

	closeOnce sync.Once
	mu        sync.Mutex // guards closed
	closed    bool
}

// Write implements stt.Stream.
func (s *stream) Write(pcm []int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return stt.ErrClosed
	}
	buf := make([]int16, len(pcm))
	copy(buf, pcm)
	if s.fill > 0 {
		s.bandFill(buf)
	}
	select {
	case s.in <- request{pcm: buf}:
		return nil
	default:
		return errors.New("pocketsphinx: decoder is behind, audio dropped")
	}
}

// bandFill adds noise to the 4–8 kHz band: low-passed white noise shifted
// up by the Nyquist frequency.
func (s *stream) bandFill(pcm []int16) {
	a := s.fill * 2.45 // uniform noise, 2-tap mean: RMS ≈ 0.41 × amplitude
	for i := range pcm {
		u := (s.rng.Float64()*2 - 1) * a
		v := (u + s.prev) / 2
		s.prev = u
		if i%2 == 1 {
			v = -v
		}
		x := float64(pcm[i]) + v
		pcm[i] = int16(max(-32768, min(32767, x)))
	}
}

// Flush implements stt.Stream.
func (s *stream) Flush(ctx context.Context) (string, error) {
	reply := make(chan result, 1)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return "", stt.ErrClosed
	}
	select {
	case s.in <- request{flush: reply}:
	case <-ctx.Done():
		s.mu.Unlock()
		return "", ctx.Err()
	}
	s.mu.Unlock()
	select {
	case r := <-reply:
		return r.text, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Close implements stt.Stream.
func (s *stream) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.in)
		s.mu.Unlock()
		<-s.done
	})
	return nil
}

func (s *stream) run() {
	defer close(s.done)
	defer s.r.give(s.key, s.d)
	var last string
	var since int
	var failed error
	for req := range s.in {
		if req.flush != nil {
			text, err := s.d.end()
			if failed != nil {
				err, failed = failed, nil
			}
			last, since = "", 0
			req.flush <- result{strings.TrimSpace(text), err}
			continue
		}
		if err := s.d.process(req.pcm); err != nil {
			failed = err
			continue
		}
		since += len(req.pcm)
		if s.opts.OnPartial != nil && since >= 16000/5 {
			since = 0
			if h := s.d.hyp(); h != last && h != "" {
				last = h
				s.opts.OnPartial(h)
			}
		}
	}
}
