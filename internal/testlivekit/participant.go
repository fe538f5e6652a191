package testlivekit

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/livekit/media-sdk"
	"github.com/livekit/protocol/livekit"
	protoLogger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
	lkmedia "github.com/livekit/server-sdk-go/v2/pkg/media"
	"github.com/pion/webrtc/v4"
)

// Rate is the sample rate a Participant plays and records at.
const Rate = 8000

// Participant is a test caller (or phone) in a room: it publishes an audio
// track it can Play into and records everything it hears from the others.
type Participant struct {
	Room    *lksdk.Room
	track   *boundTrack
	onAudio func(int)

	mu        sync.Mutex // guards heard, firstLoud, remotes, left, gone
	heard     []int16
	firstLoud time.Time
	remotes   []*lkmedia.PCMRemoteTrack
	left      bool
	gone      map[string]bool // identities that left the room
	reason    lksdk.DisconnectionReason
	done      chan struct{}
}

// JoinOptions tune JoinParticipant.
type JoinOptions struct {
	// SinglePeerConnection joins with one PeerConnection.
	SinglePeerConnection bool
	// OnAudio, when set, is told of each delivery of heard audio.
	OnAudio func(samples int)
}

// JoinParticipant joins the room of token at url, publishes its track and
// returns once the track is bound (so Play reaches the room).
func JoinParticipant(ctx context.Context, url, token string, opts JoinOptions) (*Participant, error) {
	pcm, err := lkmedia.NewPCMLocalTrack(Rate, 1, protoLogger.GetDiscardLogger())
	if err != nil {
		return nil, fmt.Errorf("local track: %w", err)
	}
	p := &Participant{
		onAudio: opts.OnAudio,
		track:   &boundTrack{PCMLocalTrack: pcm, bound: make(chan struct{})},
		gone:    map[string]bool{},
		done:    make(chan struct{}),
	}
	cb := lksdk.NewRoomCallback()
	cb.OnTrackSubscribed = p.subscribed
	cb.OnParticipantDisconnected = func(rp *lksdk.RemoteParticipant) {
		p.mu.Lock()
		p.gone[rp.Identity()] = true
		p.mu.Unlock()
	}
	var room *lksdk.Room
	cb.OnDisconnectedWithReason = func(r lksdk.DisconnectionReason) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.reason == "" {
			// The SDK folds many reasons into "other reasons": keep the
			// protocol's too.
			p.reason = lksdk.DisconnectionReason(fmt.Sprintf("%s (%s)", r, room.DisconnectReason()))
			close(p.done)
		}
	}
	room = lksdk.NewRoom(cb)
	co := []lksdk.ConnectOption{lksdk.WithLogger(protoLogger.GetDiscardLogger()), lksdk.WithConnectTimeout(12 * time.Second)}
	if opts.SinglePeerConnection {
		co = append(co, lksdk.WithSinglePeerConnection())
	}
	jctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := room.JoinWithContextAndToken(jctx, url, token, co...); err != nil {
		_ = p.track.Close()
		return nil, fmt.Errorf("join: %w", err)
	}
	p.Room = room
	if _, err := room.LocalParticipant.PublishTrack(p.track, &lksdk.TrackPublicationOptions{
		Name: "caller", Source: livekit.TrackSource_MICROPHONE,
	}); err != nil {
		p.Leave()
		return nil, fmt.Errorf("publish: %w", err)
	}
	select {
	case <-p.track.bound:
	case <-jctx.Done():
		p.Leave()
		return nil, fmt.Errorf("track not bound: %w", jctx.Err())
	}
	return p, nil
}

func (p *Participant) subscribed(track *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
	if track.Kind() != webrtc.RTPCodecTypeAudio {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.left {
		return
	}
	rt, err := lkmedia.NewPCMRemoteTrack(track, recorder{p}, lkmedia.WithTargetSampleRate(Rate),
		lkmedia.WithLogger(protoLogger.GetDiscardLogger()))
	if err == nil {
		p.remotes = append(p.remotes, rt)
	}
}

type recorder struct{ p *Participant }

func (r recorder) WriteSample(s media.PCM16Sample) error {
	if r.p.onAudio != nil {
		r.p.onAudio(len(s))
	}
	r.p.mu.Lock()
	defer r.p.mu.Unlock()
	if r.p.firstLoud.IsZero() && RMS(s) >= LoudRMS {
		r.p.firstLoud = time.Now()
	}
	r.p.heard = append(r.p.heard, s...)
	return nil
}

func (recorder) Close() error { return nil }

// Play queues pcm (8 kHz mono); the track plays it out in real time.
func (p *Participant) Play(pcm []int16) error {
	return p.track.WriteSample(pcm)
}

// PlayDone waits until everything queued has been played.
func (p *Participant) PlayDone() { p.track.WaitForPlayout() }

// DTMF sends a key press the way livekit-sip does (a SipDTMF data packet).
func (p *Participant) DTMF(digit string) error {
	return p.Room.LocalParticipant.PublishDataPacket(&livekit.SipDTMF{Digit: digit}, lksdk.WithDataPublishReliable(true))
}

// Heard returns a copy of what the participant has heard so far.
func (p *Participant) Heard() []int16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int16(nil), p.heard...)
}

// HeardLen is how many samples the participant has heard.
func (p *Participant) HeardLen() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.heard)
}

// FirstLoud is when the participant first heard audio above LoudRMS.
func (p *Participant) FirstLoud() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.firstLoud
}

// Gone reports whether identity has left the room.
func (p *Participant) Gone(identity string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gone[identity]
}

// Disconnected is closed once the server disconnected the participant.
func (p *Participant) Disconnected() <-chan struct{} { return p.done }

// Leave disconnects and releases the tracks. It is safe to call twice.
func (p *Participant) Leave() {
	p.mu.Lock()
	if p.left {
		p.mu.Unlock()
		return
	}
	p.left = true
	remotes := p.remotes
	p.remotes = nil
	p.mu.Unlock()
	if p.Room != nil {
		p.Room.Disconnect()
	}
	_ = p.track.Close()
	for _, rt := range remotes {
		rt.Close()
	}
}

// LoudRMS is the level above which a 10 ms chunk counts as sound, not
// silence or codec noise.
const LoudRMS = 300

// RMS is the root mean square level of pcm.
func RMS(pcm []int16) float64 {
	if len(pcm) == 0 {
		return 0
	}
	var sum float64
	for _, s := range pcm {
		sum += float64(s) * float64(s)
	}
	return math.Sqrt(sum / float64(len(pcm)))
}

// LoudMillis is how many milliseconds of pcm (8 kHz) are above LoudRMS,
// counted in 10 ms windows.
func LoudMillis(pcm []int16) int {
	const w = Rate / 100
	n := 0
	for i := 0; i+w <= len(pcm); i += w {
		if RMS(pcm[i:i+w]) >= LoudRMS {
			n += 10
		}
	}
	return n
}

// boundTrack tells when the local track is bound: earlier samples are lost.
type boundTrack struct {
	*lkmedia.PCMLocalTrack
	once  sync.Once
	bound chan struct{}
}

func (t *boundTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	params, err := t.PCMLocalTrack.Bind(ctx)
	if err == nil {
		t.once.Do(func() { close(t.bound) })
	}
	return params, err
}
