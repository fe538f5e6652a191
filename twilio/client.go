package twilio

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/voxplatform/vox/fleetapi"
)

// RealTime is the pace at which a carrier sends 20 ms frames.
const RealTime = 20 * time.Millisecond

// VoicedLevel is the sample magnitude above which the client counts received
// audio as voiced rather than silence.
const VoicedLevel = 500

// ClientConfig says where and how a Client connects.
type ClientConfig struct {
	// URL is the stream's WebSocket address, e.g. ws://fleet/ws/twilio.
	URL string
	// SocketPath, when set, is a Unix socket dialled instead of the URL's host.
	SocketPath string
	// Token, when set, is sent as "Authorization: Bearer Token".
	Token string
	// Header holds extra request headers.
	Header http.Header
	// CallSID and StreamSID identify the call; random ones are made when empty.
	CallSID, StreamSID string
	// CustomParameters are sent in the start message.
	CustomParameters map[string]string
	// HandshakeTimeout bounds the WebSocket handshake; 10 s when zero.
	HandshakeTimeout time.Duration
	// TLSConfig is used for wss:// URLs; nil uses the system's roots.
	TLSConfig *tls.Config
}

// Stats is what a Client has received so far.
type Stats struct {
	MediaMessages int       // media messages received
	MediaBytes    int       // mu-law bytes received
	VoicedBytes   int       // bytes in media messages that held voiced audio
	LastMedia     time.Time // when the last media message arrived
	Marks         []string  // names of marks received, in order
	Clears        int       // clear messages received
	BadMessages   int       // messages that did not decode
	Closed        bool      // the connection has ended
	CloseCode     int       // the server's close code, if it sent one
	CloseText     string    // the server's close reason
}

// Client plays the carrier's side of a Media Streams call: it sends the
// caller's audio and key presses, and records what the agent sends back.
// Like the carrier, it echoes each mark once the audio queued before it
// would have finished playing, and at once on clear.
type Client struct {
	conn      *websocket.Conn
	callSID   string
	streamSID string
	params    map[string]string

	wmu   sync.Mutex // guards writes to conn, seq and chunk
	seq   int
	chunk int

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

// Dial opens a stream. On a refused handshake it returns the server's
// response (body readable) with the error, so callers can see 401 or 429.
func Dial(ctx context.Context, cfg ClientConfig) (*Client, *http.Response, error) {
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
	c := &Client{
		conn:      conn,
		callSID:   cfg.CallSID,
		streamSID: cfg.StreamSID,
		params:    cfg.CustomParameters,
		changed:   make(chan struct{}),
		done:      make(chan struct{}),
	}
	if c.callSID == "" {
		c.callSID = "CA" + randomHex()
	}
	if c.streamSID == "" {
		c.streamSID = "MZ" + randomHex()
	}
	go c.readLoop()
	return c, resp, nil
}

func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// CallSID returns the call's identifier as sent in the start message.
func (c *Client) CallSID() string { return c.callSID }

// Start sends the connected and start messages.
func (c *Client) Start() error {
	if err := c.send(Message{Event: EventConnected, Protocol: "Call", Version: "1.0.0"}); err != nil {
		return err
	}
	return c.send(Message{Event: EventStart, StreamSID: c.streamSID, Start: &Start{
		AccountSID:       "AC00000000000000000000000000000000",
		StreamSID:        c.streamSID,
		CallSID:          c.callSID,
		Tracks:           []string{"inbound"},
		CustomParameters: c.params,
		MediaFormat:      MediaFormat{Encoding: Encoding, SampleRate: SampleRate, Channels: Channels},
	}})
}

// SendAudio sends mu-law audio in 20 ms frames, one every pace (0: as fast
// as possible; RealTime: like a carrier). The last frame may be short.
func (c *Client) SendAudio(ctx context.Context, mulaw []byte, pace time.Duration) error {
	var tick *time.Ticker
	if pace > 0 {
		tick = time.NewTicker(pace)
		defer tick.Stop()
	}
	for len(mulaw) > 0 {
		n := min(FrameBytes, len(mulaw))
		if err := c.sendMedia(mulaw[:n]); err != nil {
			return err
		}
		mulaw = mulaw[n:]
		if tick != nil && len(mulaw) > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
			}
		}
	}
	return nil
}

func (c *Client) sendMedia(frame []byte) error {
	c.wmu.Lock()
	c.chunk++
	chunk := c.chunk
	c.wmu.Unlock()
	return c.send(Message{Event: EventMedia, StreamSID: c.streamSID, Media: &Media{
		Track:     "inbound",
		Chunk:     strconv.Itoa(chunk),
		Timestamp: strconv.Itoa((chunk - 1) * 20),
		Payload:   base64.StdEncoding.EncodeToString(frame),
	}})
}

// SendDTMF sends one key press.
func (c *Client) SendDTMF(digit string) error {
	return c.send(Message{Event: EventDTMF, StreamSID: c.streamSID, DTMF: &DTMF{Track: "inbound_track", Digit: digit}})
}

// Stop sends the stop message that ends the stream.
func (c *Client) Stop() error {
	return c.send(Message{Event: EventStop, StreamSID: c.streamSID, Stop: &Stop{CallSID: c.callSID}})
}

// SendRaw sends data as one text message, exactly as given.
func (c *Client) SendRaw(data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.conn.WriteMessage(websocket.TextMessage, data); err != nil {
		return fmt.Errorf("send raw message: %w", err)
	}
	return nil
}

func (c *Client) send(m Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if m.Event != EventMark {
		c.seq++
		m.SequenceNumber = strconv.Itoa(c.seq)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s: %w", m.Event, err)
	}
	if err := c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("send %s: %w", m.Event, err)
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

// Close closes the connection without a stop message, as a vanished carrier
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
		_, data, err := c.conn.ReadMessage()
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
		c.receive(data)
	}
}

func (c *Client) receive(data []byte) {
	var m Message
	if err := json.Unmarshal(data, &m); err != nil {
		c.update(func(s *Stats) { s.BadMessages++ })
		return
	}
	switch m.Event {
	case EventMedia:
		var audio []byte
		var err error
		if m.Media != nil {
			audio, err = base64.StdEncoding.DecodeString(m.Media.Payload)
		}
		if m.Media == nil || err != nil {
			c.update(func(s *Stats) { s.BadMessages++ })
			return
		}
		voiced := Voiced(audio)
		now := time.Now()
		c.mu.Lock()
		c.playEnd = later(c.playEnd, now).Add(time.Duration(len(audio)) * time.Second / SampleRate)
		c.mu.Unlock()
		c.update(func(s *Stats) {
			s.MediaMessages++
			s.MediaBytes += len(audio)
			if voiced {
				s.VoicedBytes += len(audio)
			}
			s.LastMedia = now
		})
	case EventMark:
		if m.Mark == nil {
			c.update(func(s *Stats) { s.BadMessages++ })
			return
		}
		name := m.Mark.Name
		c.update(func(s *Stats) { s.Marks = append(s.Marks, name) })
		c.mu.Lock()
		p := &pendingMark{name: name}
		p.timer = time.AfterFunc(time.Until(c.playEnd), func() { c.played(p) })
		c.pending = append(c.pending, p)
		c.mu.Unlock()
	case EventClear:
		c.mu.Lock()
		pending := c.pending
		c.pending = nil
		c.playEnd = time.Now()
		c.mu.Unlock()
		for _, p := range pending {
			if p.timer.Stop() {
				_ = c.send(OutboundMark(c.streamSID, p.name))
			}
		}
		c.update(func(s *Stats) { s.Clears++ })
	default:
		c.update(func(s *Stats) { s.BadMessages++ })
	}
}

// played echoes a mark whose audio has finished playing.
func (c *Client) played(p *pendingMark) {
	c.mu.Lock()
	for i, q := range c.pending {
		if q == p {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			break
		}
	}
	c.mu.Unlock()
	_ = c.send(OutboundMark(c.streamSID, p.name))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Voiced reports whether mu-law audio holds a sample louder than
// VoicedLevel.
func Voiced(mulaw []byte) bool {
	for _, b := range mulaw {
		if s := MulawDecode(b); s > VoicedLevel || s < -VoicedLevel {
			return true
		}
	}
	return false
}

// Tone returns d of a sine wave at hz with the given peak amplitude, as
// mu-law: a stand-in for a caller's voice.
func Tone(d time.Duration, hz float64, amplitude int16) []byte {
	n := int(d * SampleRate / time.Second)
	out := make([]byte, n)
	for i := range out {
		v := float64(amplitude) * math.Sin(2*math.Pi*hz*float64(i)/SampleRate)
		out[i] = MulawEncode(int16(v))
	}
	return out
}

// Silence returns d of mu-law silence.
func Silence(d time.Duration) []byte {
	out := make([]byte, int(d*SampleRate/time.Second))
	for i := range out {
		out[i] = MulawSilence
	}
	return out
}
