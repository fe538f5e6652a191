package roomleg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/livekit/media-sdk"
	"github.com/livekit/protocol/livekit"
	protoLogger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"

	"github.com/voxplatform/vox/lkapi"
)

// Join connects to the room, publishes the agent's track and returns once
// the track is bound, so that audio written from now on reaches the room.
// Failed joins are retried (Config.JoinAttempts).
func Join(ctx context.Context, cfg Config, logger *slog.Logger) (*Leg, error) {
	cfg.defaults()
	if err := cfg.LiveKit.Validate("livekit "); err != nil {
		return nil, err
	}
	if cfg.Room == "" || cfg.Identity == "" {
		return nil, errors.New("roomleg: room and identity are required")
	}
	logger = logger.With("component", "roomleg", "room", cfg.Room)
	l := &Leg{
		cfg:        cfg,
		log:        logger,
		events:     make(chan event, 256),
		heardBy:    make(chan struct{}),
		subscribed: map[string]bool{},
		done:       make(chan struct{}),
	}
	if cfg.DeleteRoom {
		api, err := lkapi.New(cfg.LiveKit)
		if err != nil {
			return nil, err
		}
		l.api = api
	}
	lkLog := sdkLogger(logger)
	var err error
	for attempt := 1; attempt <= cfg.JoinAttempts; attempt++ {
		if err = l.join(ctx, lkLog); err == nil {
			break
		}
		logger.Warn("join failed", "attempt", attempt, "err", err)
		if ctx.Err() != nil || attempt == cfg.JoinAttempts {
			return nil, fmt.Errorf("join room %q: %w", cfg.Room, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("join room %q: %w", cfg.Room, ctx.Err())
		case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		}
	}
	l.pace = newPacer(l.track, cfg.Tap, l.markPlayed)
	l.wg.Add(1)
	go func() { defer l.wg.Done(); l.pace.run(l.done) }()
	l.mu.Lock()
	l.joinedAt = time.Now()
	l.mu.Unlock()
	// Participants already in the room (an inbound SIP caller) do not
	// announce themselves.
	for _, rp := range l.room.GetRemoteParticipants() {
		l.considerCaller(rp)
	}
	return l, nil
}

// join makes one attempt: a fresh room and track, connect, publish, wait
// for the binding. On failure it leaves nothing behind.
func (l *Leg) join(ctx context.Context, lkLog protoLogger.Logger) error {
	track, err := newOutTrack(l.cfg.OpusComplexity, lkLog)
	if err != nil {
		return err
	}
	cb := l.callbacks()
	var room *lksdk.Room
	// The SDK's reason folds ROOM_DELETED into "other reasons"; the room
	// keeps the protocol's.
	cb.OnDisconnectedWithReason = func(lksdk.DisconnectionReason) {
		l.post(event{kind: evDisconnected, text: room.DisconnectReason().String()})
	}
	room = lksdk.NewRoom(cb)
	opts := []lksdk.ConnectOption{lksdk.WithLogger(lkLog), lksdk.WithAutoSubscribe(true)}
	if l.cfg.SinglePeerConnection {
		opts = append(opts, lksdk.WithSinglePeerConnection())
	}
	info := lksdk.ConnectInfo{
		APIKey:              l.cfg.LiveKit.Key,
		APISecret:           l.cfg.LiveKit.Secret,
		RoomName:            l.cfg.Room,
		ParticipantIdentity: l.cfg.Identity,
		ParticipantName:     l.cfg.Name,
		ParticipantKind:     lksdk.ParticipantAgent,
	}
	jctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := room.JoinWithContext(jctx, l.cfg.LiveKit.WSURL(), info, opts...); err != nil {
		track.close()
		return err
	}
	fail := func(err error) error {
		room.Disconnect()
		track.close()
		return err
	}
	if _, err := room.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{
		Name:   "agent",
		Source: livekit.TrackSource_MICROPHONE,
	}); err != nil {
		return fail(fmt.Errorf("publish: %w", err))
	}
	select {
	case <-track.bound:
	case <-jctx.Done():
		return fail(fmt.Errorf("track not bound: %w", jctx.Err()))
	}
	l.room, l.track = room, track
	return nil
}

func (l *Leg) callbacks() *lksdk.RoomCallback {
	cb := lksdk.NewRoomCallback()
	cb.OnParticipantConnected = func(rp *lksdk.RemoteParticipant) { l.considerCaller(rp) }
	cb.OnParticipantDisconnected = func(rp *lksdk.RemoteParticipant) {
		l.mu.Lock()
		isCaller := rp.Identity() == l.caller
		l.mu.Unlock()
		if isCaller {
			l.post(event{kind: evCallerLeft, text: rp.Identity()})
		}
	}
	cb.OnTrackSubscribed = l.trackSubscribed
	cb.OnLocalTrackSubscribed = func(*lksdk.LocalTrackPublication, *lksdk.LocalParticipant) {
		l.heardOnce.Do(func() { close(l.heardBy) })
	}
	cb.OnAttributesChanged = func(changed map[string]string, p lksdk.Participant) {
		if _, ok := changed[livekit.AttrSIPCallStatus]; !ok {
			return
		}
		if rp, ok := p.(*lksdk.RemoteParticipant); ok {
			l.considerCaller(rp)
		}
	}
	cb.OnDataPacket = func(data lksdk.DataPacket, params lksdk.DataReceiveParams) {
		if d, ok := data.(*livekit.SipDTMF); ok && d.Digit != "" {
			l.post(event{kind: evDTMF, text: d.Digit})
		}
	}
	return cb
}

// considerCaller takes rp as the caller if none is chosen yet and it fits.
// A SIP participant counts once its call is answered: livekit-sip puts it
// in the room while the phone still rings.
func (l *Leg) considerCaller(rp *lksdk.RemoteParticipant) {
	if rp.Kind() == lksdk.ParticipantAgent && l.cfg.Caller == "" {
		return
	}
	if rp.Kind() == lksdk.ParticipantSIP {
		if st, ok := rp.Attributes()[livekit.AttrSIPCallStatus]; ok && st != "active" {
			return
		}
	}
	if l.cfg.Caller != "" && rp.Identity() != l.cfg.Caller {
		return
	}
	l.mu.Lock()
	chosen := l.caller == ""
	if chosen {
		l.caller = rp.Identity()
	}
	l.mu.Unlock()
	if !chosen {
		return
	}
	// Tracks subscribed before the caller was chosen (a SIP call ringing).
	for _, pub := range rp.TrackPublications() {
		if rpub, ok := pub.(*lksdk.RemoteTrackPublication); ok && rpub.TrackRemote() != nil {
			l.trackSubscribed(rpub.TrackRemote(), rpub, rp)
		}
	}
	l.post(event{kind: evCallerJoined, text: rp.Identity()})
}

func (l *Leg) trackSubscribed(track *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
	if track.Kind() != webrtc.RTPCodecTypeAudio {
		return
	}
	l.considerCaller(rp)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || rp.Identity() != l.caller || l.subscribed[track.ID()] {
		return
	}
	l.subscribed[track.ID()] = true
	rt, err := decode(track, l.callerAudio, protoLogger.GetDiscardLogger())
	if err != nil {
		l.log.Warn("subscribe caller audio", "caller", rp.Identity(), "err", err)
		return
	}
	l.remotes = append(l.remotes, rt)
}

// callerAudio receives the caller's decoded audio.
func (l *Leg) callerAudio(s media.PCM16Sample) {
	if len(s) == 0 {
		return
	}
	pcm := make([]int16, len(s))
	copy(pcm, s)
	if l.cfg.Tap != nil {
		l.cfg.Tap.CallerAudio(pcm)
	}
	l.post(event{kind: evAudio, pcm: pcm})
}
