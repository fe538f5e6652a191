package carrier

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/voxplatform/vox/fleetapi"
)

// VoicedLevel is the sample magnitude above which the client counts
// received audio as voiced rather than silence.
const VoicedLevel = 500

// ClientConfig says where and how a Client connects.
type ClientConfig struct {
	// URL is the stream's WebSocket address, e.g. ws://fleet/ws/exotel.
	URL string
	// SocketPath, when set, is a Unix socket dialled instead of the URL's host.
	SocketPath string
	// Token, when set, is sent as "Authorization: Bearer Token".
	Token string
	// Header holds extra request headers.
	Header http.Header
	// CallID and StreamID identify the call; random ones are made when empty.
	CallID, StreamID string
	// Parameters are sent as the carrier sends custom parameters.
	Parameters map[string]string
	// Reorder sends each second media message before the one it follows,
	// as a carrier whose frames arrive out of order.
	Reorder bool
	// HandshakeTimeout bounds the WebSocket handshake; 10 s when zero.
	HandshakeTimeout time.Duration
	// TLSConfig is used for wss:// URLs; nil uses the system's roots.
	TLSConfig *tls.Config
}

// Stats is what a Client has received so far. Audio is counted in 8 kHz
// samples whatever the carrier's rate.
type Stats struct {
	MediaMessages int       // agent media messages received
	Samples       int       // agent audio received
	VoicedSamples int       // of which in messages that held voiced audio
	LastMedia     time.Time // when the last media message arrived
	Marks         []string  // names of marks received, in order
	Clears        int       // clears received
	BadMessages   int       // messages the carrier could not read
	Closed        bool      // the connection has ended
	CloseCode     int       // the server's close code, if it sent one
	CloseText     string    // the server's close reason
}

// Client plays a carrier's side of one stream over a real WebSocket: it
// sends the caller's audio, key presses and stop in the carrier's
// protocol, and records what the agent sends back. Like the carrier, it
// reports each mark once the audio queued before it would have finished
// playing, and answers a clear as the carrier does.
type Client struct {
	proto  *Protocol
	conn   *websocket.Conn
	callID string

	wmu     sync.Mutex // guards writes to conn, caller and held
	caller  Caller
	reorder bool
	held    []Frame // a media message held back to be sent after the next

	mu      sync.Mutex // guards stats, changed, playEnd and pending
	stats   Stats
	changed chan struct{} // closed and replaced whenever stats change
	playEnd time.Time     // when the audio received so far ends playing
	pending []*pendingMark

	done chan struct{} // closed when the read loop ends
}

type pendingMark struct {
	name  string
	timer *time.Timer
}

// Dial opens a stream to p's route. On a refused handshake it returns the
// server's response (body readable) with the error, so callers can see 401
// or 429.
func Dial(ctx context.Context, p *Protocol, cfg ClientConfig) (*Client, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: cfg.HandshakeTimeout, TLSClientConfig: cfg.TLSConfig}
	if d.HandshakeTimeout == 0 {
		d.HandshakeTimeout = 10 * time.Second
	}
	if cfg.SocketPath != "" {
		path := cfg.SocketPath
		d.NetDialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return fleetapi.DialSocket(ctx, path)
		}
	}
	h := http.Header{}
	for k, v := range cfg.Header {
		h[k] = v
	}
	if cfg.Token != "" {
		h.Set("Authorization", "Bearer "+cfg.Token)
	}
	conn, resp, err := d.DialContext(ctx, cfg.URL, h)
	if err != nil {
		return nil, resp, fmt.Errorf("dial %s: %w", cfg.URL, err)
	}
	if cfg.CallID == "" {
		cfg.CallID = p.Name + "-" + randHex()
	}
	if cfg.StreamID == "" {
		cfg.StreamID = "stream-" + randHex()
	}
	c := &Client{proto: p, conn: conn, callID: cfg.CallID, reorder: cfg.Reorder, changed: make(chan struct{}), done: make(chan struct{}),
		caller: p.NewCaller(CallerConfig{CallID: cfg.CallID, StreamID: cfg.StreamID, Parameters: cfg.Parameters})}
	go c.readLoop()
	return c, resp, nil
}

func randHex() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// CallID is the call's identifier as the carrier sends it.
func (c *Client) CallID() string { return c.callID }

// FrameDuration is the audio one media message of this carrier carries.
func (c *Client) FrameDuration() time.Duration {
	return time.Duration(c.caller.FrameSamples()) * time.Second / SampleRate
}

// Start sends what the carrier sends first (connected, start).
func (c *Client) Start() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.write(c.caller.Open())
}

// SendAudio sends 8 kHz caller audio in the carrier's media messages, one
// every pace (0: as fast as possible; FrameDuration: like a carrier). The
// last message is padded with silence.
func (c *Client) SendAudio(ctx context.Context, pcm []int16, pace time.Duration) error {
	var tick *time.Ticker
	if pace > 0 {
		tick = time.NewTicker(pace)
		defer tick.Stop()
	}
	n := c.caller.FrameSamples()
	for len(pcm) > 0 {
		frame := pcm[:min(n, len(pcm))]
		if len(frame) < n {
			frame = append(append([]int16(nil), frame...), make([]int16, n-len(frame))...)
		}
		if err := c.sendMedia(frame); err != nil {
			return err
		}
		pcm = pcm[min(n, len(pcm)):]
		if tick != nil && len(pcm) > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
			}
		}
	}
	return c.flushHeld()
}

func (c *Client) sendMedia(pcm []int16) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	fr := c.caller.Audio(pcm)
	if !c.reorder {
		return c.write(fr)
	}
	if c.held == nil {
		c.held = fr
		return nil
	}
	held := c.held
	c.held = nil
	if err := c.write(fr); err != nil {
		return err
	}
	return c.write(held)
}

func (c *Client) flushHeld() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	held := c.held
	c.held = nil
	return c.write(held)
}

// SendDTMF sends one key press.
func (c *Client) SendDTMF(digit string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.write(c.caller.DTMF(digit))
}

// Stop ends the stream as the carrier does: its stop message, or a normal
// close of the WebSocket.
func (c *Client) Stop() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if fr := c.caller.Stop(); fr != nil {
		return c.write(fr)
	}
	err := c.conn.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, "call ended"), time.Now().Add(5*time.Second))
	if err != nil {
		return fmt.Errorf("close stream: %w", err)
	}
	return nil
}

// SendRaw sends f exactly as given.
func (c *Client) SendRaw(f Frame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.write([]Frame{f})
}

// write sends frames; the caller holds wmu.
func (c *Client) write(frames []Frame) error {
	for _, f := range frames {
		mt := websocket.TextMessage
		if f.Binary {
			mt = websocket.BinaryMessage
		}
		if err := c.conn.WriteMessage(mt, f.Data); err != nil {
			return fmt.Errorf("send to the %s stream: %w", c.proto.Name, err)
		}
	}
	return nil
}

// Stats returns a copy of what has been received so far.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Marks = append([]string(nil), s.Marks...)
	return s
}

// Wait blocks until cond holds for the client's stats or ctx ends, and
// returns the stats it last saw.
func (c *Client) Wait(ctx context.Context, cond func(Stats) bool) (Stats, error) {
	for {
		c.mu.Lock()
		ch := c.changed
		c.mu.Unlock()
		s := c.Stats()
		if cond(s) {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return s, fmt.Errorf("wait for stream condition: %w", ctx.Err())
		case <-ch:
		}
	}
}

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Close closes the connection without a stop, as a vanished carrier
// would, and waits for the read loop to end.
func (c *Client) Close() error {
	err := c.conn.Close()
	<-c.done
	return err
}

// update applies fn to the stats and wakes waiters. Callers hold no lock.
func (c *Client) update(fn func(*Stats)) {
	c.mu.Lock()
	fn(&c.stats)
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

func (c *Client) readLoop() {
	defer close(c.done)
	for {
		mt, data, err := c.conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			c.mu.Lock()
			for _, p := range c.pending {
				p.timer.Stop()
			}
			c.pending = nil
			c.mu.Unlock()
			c.update(func(s *Stats) {
				s.Closed = true
				if errors.As(err, &ce) {
					s.CloseCode, s.CloseText = ce.Code, ce.Text
				}
			})
			return
		}
		c.receive(Frame{Binary: mt == websocket.BinaryMessage, Data: data})
	}
}

func (c *Client) receive(f Frame) {
	r, err := c.caller.Read(f)
	if err != nil {
		c.update(func(s *Stats) { s.BadMessages++ })
		return
	}
	switch r.Kind {
	case ReplyAudio:
		voiced := Voiced(r.Audio)
		now := time.Now()
		c.mu.Lock()
		c.playEnd = later(c.playEnd, now).Add(time.Duration(len(r.Audio)) * time.Second / SampleRate)
		c.mu.Unlock()
		c.update(func(s *Stats) {
			s.MediaMessages++
			s.Samples += len(r.Audio)
			if voiced {
				s.VoicedSamples += len(r.Audio)
			}
			s.LastMedia = now
		})
	case ReplyMark:
		name := r.Mark
		c.update(func(s *Stats) { s.Marks = append(s.Marks, name) })
		c.mu.Lock()
		p := &pendingMark{name: name}
		p.timer = time.AfterFunc(time.Until(c.playEnd), func() { c.played(p) })
		c.pending = append(c.pending, p)
		c.mu.Unlock()
	case ReplyClear:
		c.mu.Lock()
		pending := c.pending
		c.pending = nil
		c.playEnd = time.Now()
		c.mu.Unlock()
		var names []string
		for _, p := range pending {
			if p.timer.Stop() {
				names = append(names, p.name)
			}
		}
		c.wmu.Lock()
		_ = c.write(c.caller.Cleared(names))
		c.wmu.Unlock()
		c.update(func(s *Stats) { s.Clears++ })
	}
}

// played reports a mark whose audio has finished playing.
func (c *Client) played(p *pendingMark) {
	c.mu.Lock()
	for i, q := range c.pending {
		if q == p {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			break
		}
	}
	c.mu.Unlock()
	c.wmu.Lock()
	_ = c.write(c.caller.Played(p.name))
	c.wmu.Unlock()
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Voiced reports whether pcm holds a sample louder than VoicedLevel.
func Voiced(pcm []int16) bool {
	for _, s := range pcm {
		if s > VoicedLevel || s < -VoicedLevel {
			return true
		}
	}
	return false
}

// Tone returns d of a sine wave at hz with the given peak amplitude at
// 8 kHz: a stand-in for a caller's voice.
func Tone(d time.Duration, hz float64, amplitude int16) []int16 {
	out := make([]int16, int(d*SampleRate/time.Second))
	for i := range out {
		out[i] = int16(float64(amplitude) * math.Sin(2*math.Pi*hz*float64(i)/SampleRate))
	}
	return out
}

// Silence returns d of silence at 8 kHz.
func Silence(d time.Duration) []int16 { return make([]int16, int(d*SampleRate/time.Second)) }
