// Package deepgram is a streaming speech-to-text provider for Deepgram's
// live API: one WebSocket per call (wss://api.deepgram.com/v1/listen,
// linear16 at 16 kHz, interim results), the caller's speech sent as binary
// frames, {"type":"Finalize"} at the end of each turn and the final
// results gathered until the one marked from_finalize. KeepAlive messages
// hold the socket open between turns; CloseStream ends it. A sender
// goroutine does the writing, so Write never waits on the network (the
// pipeline calls it from the goroutine that detects barge-in). A socket the
// server closed (1008 bad data, 1011 timeout) fails the turn it was in and
// is dialled again for the next.
//
// deepgram imports nothing of this module outside voice/.
package deepgram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/voxplatform/vox/voice/audio"
	"github.com/voxplatform/vox/voice/stt"
)

// Rate is the audio rate sent.
const Rate = 16000

// Config configures a Recognizer; zero fields take defaults.
type Config struct {
	URL    string // [wss://api.deepgram.com/v1/listen]
	APIKey string
	Model  string // [nova-2]
	// KeepAlive is the idle time after which a KeepAlive is sent [5 s]
	// (the server closes a socket idle for 10 s).
	KeepAlive time.Duration
	// Finalize bounds the wait for a turn's final results [3 s].
	Finalize time.Duration
	// Dial bounds the handshake [5 s].
	Dial time.Duration
}

// Recognizer is the provider.
type Recognizer struct{ cfg Config }

// New checks cfg.
func New(cfg Config) (*Recognizer, error) {
	if cfg.URL == "" {
		cfg.URL = "wss://api.deepgram.com/v1/listen"
	}
	if !strings.HasPrefix(cfg.URL, "ws://") && !strings.HasPrefix(cfg.URL, "wss://") {
		return nil, fmt.Errorf("deepgram: URL %q is not ws(s)", cfg.URL)
	}
	if cfg.Model == "" {
		cfg.Model = "nova-2"
	}
	if cfg.KeepAlive <= 0 {
		cfg.KeepAlive = 5 * time.Second
	}
	if cfg.Finalize <= 0 {
		cfg.Finalize = 3 * time.Second
	}
	if cfg.Dial <= 0 {
		cfg.Dial = 5 * time.Second
	}
	return &Recognizer{cfg: cfg}, nil
}

// SampleRate implements stt.Recognizer.
func (r *Recognizer) SampleRate() int { return Rate }

// HandshakeError is a refused connection.
type HandshakeError struct {
	Status  int
	Message string
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("deepgram: handshake refused with HTTP %d: %s", e.Status, e.Message)
}

// Open implements stt.Recognizer.
func (r *Recognizer) Open(ctx context.Context, opts stt.Options) (stt.Stream, error) {
	s := &stream{r: r, opts: opts, stop: make(chan struct{}), out: make(chan frame, 512)}
	if err := s.dial(ctx); err != nil {
		return nil, err
	}
	s.wg.Add(2)
	go s.keepAlive()
	go s.send()
	return s, nil
}

// frame is one message for the sender. A Finalize frame carries sent, told
// which socket it went out on and whether the turn's audio was lost.
type frame struct {
	typ  int
	b    []byte
	sent chan sentTurn
}

type sentTurn struct {
	c    *conn
	lost error
}

type result struct {
	Type    string `json:"type"`
	Channel struct {
		Alternatives []struct {
			Transcript string `json:"transcript"`
		} `json:"alternatives"`
	} `json:"channel"`
	IsFinal      bool `json:"is_final"`
	SpeechFinal  bool `json:"speech_final"`
	FromFinalize bool `json:"from_finalize"`
}

// conn is one socket and its reader's state.
type conn struct {
	ws      *websocket.Conn
	dead    chan struct{} // closed when the reader ends
	err     error         // why, set before dead is closed
	wmu     sync.Mutex    // serialises writes
	lastOut time.Time     // guarded by wmu
}

type stream struct {
	r    *Recognizer
	opts stt.Options
	stop chan struct{}
	out  chan frame // to the sender goroutine, which owns dialling again
	wg   sync.WaitGroup

	mu        sync.Mutex // guards the fields below
	c         *conn
	finals    []string
	finalized chan struct{} // closed when a from_finalize result arrives
	closed    bool
}

func (s *stream) dial(ctx context.Context) error {
	q := url.Values{}
	q.Set("encoding", "linear16")
	q.Set("sample_rate", fmt.Sprint(Rate))
	q.Set("channels", "1")
	q.Set("interim_results", "true")
	q.Set("punctuate", "true")
	q.Set("model", s.r.cfg.Model)
	if s.opts.Language != "" {
		q.Set("language", s.opts.Language)
	}
	for _, p := range s.opts.Phrases {
		for _, w := range strings.Fields(p) {
			if w = strings.Trim(w, ".,?!;:"); len(w) > 3 {
				q.Add("keywords", w)
			}
		}
		if len(q["keywords"]) > 50 {
			break
		}
	}
	h := http.Header{}
	if s.r.cfg.APIKey != "" {
		h.Set("Authorization", "Token "+s.r.cfg.APIKey)
	}
	dctx, cancel := context.WithTimeout(ctx, s.r.cfg.Dial)
	defer cancel()
	ws, resp, err := websocket.DefaultDialer.DialContext(dctx, s.r.cfg.URL+"?"+q.Encode(), h)
	if err != nil {
		if resp != nil {
			defer resp.Body.Close()
			raw, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
			he := &HandshakeError{Status: resp.StatusCode, Message: strings.TrimSpace(string(raw))}
			var e struct {
				Msg string `json:"err_msg"`
			}
			if json.Unmarshal(raw, &e) == nil && e.Msg != "" {
				he.Message = e.Msg
			}
			return he
		}
		return fmt.Errorf("deepgram: dial: %w", err)
	}
	c := &conn{ws: ws, dead: make(chan struct{}), lastOut: time.Now()}
	s.mu.Lock()
	s.c = c
	s.mu.Unlock()
	s.wg.Add(1)
	go s.read(c)
	return nil
}

func (s *stream) read(c *conn) {
	defer s.wg.Done()
	defer close(c.dead)
	for {
		typ, msg, err := c.ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				c.err = fmt.Errorf("deepgram: closed by the server: %d %s", ce.Code, ce.Text)
			} else {
				c.err = fmt.Errorf("deepgram: read: %w", err)
			}
			return
		}
		if typ != websocket.TextMessage {
			continue
		}
		var r result
		if json.Unmarshal(msg, &r) != nil || r.Type != "Results" {
			continue // Metadata, SpeechStarted, UtteranceEnd
		}
		text := ""
		if len(r.Channel.Alternatives) > 0 {
			text = strings.TrimSpace(r.Channel.Alternatives[0].Transcript)
		}
		s.mu.Lock()
		if r.IsFinal && text != "" {
			s.finals = append(s.finals, text)
		}
		partial := strings.Join(s.finals, " ")
		if !r.IsFinal && text != "" {
			partial = strings.TrimSpace(partial + " " + text)
		}
		if r.FromFinalize && s.finalized != nil {
			close(s.finalized)
			s.finalized = nil
		}
		s.mu.Unlock()
		if s.opts.OnPartial != nil && partial != "" {
			s.opts.OnPartial(partial)
		}
	}
}

// live returns the socket, dialling again if the last one died.
func (s *stream) live() (*conn, error) {
	s.mu.Lock()
	c, closed := s.c, s.closed
	s.mu.Unlock()
	if closed {
		return nil, stt.ErrClosed
	}
	select {
	case <-c.dead:
		ctx, cancel := context.WithTimeout(context.Background(), s.r.cfg.Dial)
		defer cancel()
		if err := s.dial(ctx); err != nil {
			return nil, fmt.Errorf("%w; redial: %w", c.err, err)
		}
		s.mu.Lock()
		c = s.c
		s.mu.Unlock()
	default:
	}
	return c, nil
}

func (c *conn) write(typ int, b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.lastOut = time.Now()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteMessage(typ, b)
}

// send writes the queued messages in order, dialling again when the
// socket has died, so that Write never waits on the network.
func (s *stream) send() {
	defer s.wg.Done()
	var used *conn // the socket this turn's audio went to
	var lost error // why some of this turn's audio was lost
	for {
		select {
		case <-s.stop:
			return
		case f := <-s.out:
			c, err := s.live()
			switch {
			case err != nil:
				lost = err
			case used != nil && c != used && lost == nil:
				lost = used.err // the socket died mid-turn
			}
			// A lost turn is not finalized: its results would land in
			// the next turn.
			if err == nil && (f.sent == nil || lost == nil) {
				if werr := c.write(f.typ, f.b); werr != nil && lost == nil {
					lost = fmt.Errorf("deepgram: send: %w", werr)
				}
			}
			if f.sent == nil {
				if err == nil {
					used = c
				}
				continue
			}
			f.sent <- sentTurn{c: c, lost: lost}
			used, lost = nil, nil
		}
	}
}

// Write implements stt.Stream: the audio is queued for the sender.
func (s *stream) Write(pcm []int16) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return stt.ErrClosed
	}
	b := make([]byte, 2*len(pcm))
	audio.PutPCM(b, pcm)
	select {
	case s.out <- frame{typ: websocket.BinaryMessage, b: b}:
		return nil
	default:
		return errors.New("deepgram: sending behind, audio dropped")
	}
}

// Flush implements stt.Stream.
func (s *stream) Flush(ctx context.Context) (string, error) {
	done := make(chan struct{})
	s.mu.Lock()
	closed := s.closed
	s.finalized = done
	s.mu.Unlock()
	if closed {
		return "", stt.ErrClosed
	}
	sent := make(chan sentTurn, 1)
	select {
	case s.out <- frame{websocket.TextMessage, []byte(`{"type":"Finalize"}`), sent}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	var st sentTurn
	select {
	case st = <-sent:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if st.lost != nil || st.c == nil {
		// The turn's audio went down with a socket; the next turn uses
		// the new one.
		s.mu.Lock()
		s.finals, s.finalized = nil, nil
		s.mu.Unlock()
		if st.lost == nil {
			st.lost = errors.New("deepgram: no socket")
		}
		return "", st.lost
	}
	c := st.c
	timer := time.NewTimer(s.r.cfg.Finalize)
	defer timer.Stop()
	var werr error
	select {
	case <-done:
	case <-c.dead:
		werr = c.err
	case <-timer.C:
		werr = errors.New("deepgram: no final result in time")
	case <-ctx.Done():
		werr = ctx.Err()
	}
	s.mu.Lock()
	text := strings.Join(s.finals, " ")
	s.finals, s.finalized = nil, nil
	s.mu.Unlock()
	if text != "" {
		return text, nil // what was final before the trouble
	}
	return "", werr
}

func (s *stream) keepAlive() {
	defer s.wg.Done()
	t := time.NewTicker(s.r.cfg.KeepAlive / 2)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		c := s.c
		s.mu.Unlock()
		c.wmu.Lock()
		idle := time.Since(c.lastOut)
		c.wmu.Unlock()
		if idle >= s.r.cfg.KeepAlive/2 {
			_ = c.write(websocket.TextMessage, []byte(`{"type":"KeepAlive"}`))
		}
	}
}

// Close implements stt.Stream: CloseStream, then the socket.
func (s *stream) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	c := s.c
	s.mu.Unlock()
	close(s.stop)
	_ = c.write(websocket.TextMessage, []byte(`{"type":"CloseStream"}`))
	select {
	case <-c.dead:
	case <-time.After(time.Second):
	}
	_ = c.ws.Close() // the server may have closed it first
	s.wg.Wait()
	return nil
}
