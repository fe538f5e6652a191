package callslot

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/voxplatform/vox/agent"
	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/lkapi"
	"github.com/voxplatform/vox/roomleg"
)

// Defaults of LiveKitConfig.
const (
	DefaultRingTimeout   = 30 * time.Second // a dial-out rings this long
	DefaultWidgetWait    = 60 * time.Second // a widget caller has this long to join
	DefaultCallerTimeout = 30 * time.Second // an attached callee has this long to be in the room
)

// LiveKitConfig is the worker's LiveKit side.
type LiveKitConfig struct {
	LiveKit lkapi.Config
	// Trunk is the outbound SIP trunk of /livekit/dialout requests that name
	// none.
	Trunk string
	// RingTimeout, WidgetWait and CallerTimeout: 0 → the defaults.
	RingTimeout, WidgetWait, CallerTimeout time.Duration
	// TwoPeerConnections joins rooms with separate publish and subscribe
	// PeerConnections (roomleg's default is one; see roomleg.Config).
	TwoPeerConnections bool
}

// LiveKit carries calls through LiveKit rooms (roomleg) and places and
// removes SIP calls through LiveKit's server API (lkapi). It implements
// RoomMedia.
type LiveKit struct {
	cfg LiveKitConfig
	api *lkapi.Client
	log *slog.Logger
}

// NewLiveKit checks cfg and returns the worker's LiveKit side.
func NewLiveKit(cfg LiveKitConfig, logger *slog.Logger) (*LiveKit, error) {
	api, err := lkapi.New(cfg.LiveKit)
	if err != nil {
		return nil, err
	}
	if cfg.RingTimeout <= 0 {
		cfg.RingTimeout = DefaultRingTimeout
	}
	if cfg.WidgetWait <= 0 {
		cfg.WidgetWait = DefaultWidgetWait
	}
	if cfg.CallerTimeout <= 0 {
		cfg.CallerTimeout = DefaultCallerTimeout
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &LiveKit{cfg: cfg, api: api, log: logger}, nil
}

// agentIdentity is the agent's participant identity in a call's room.
func agentIdentity(callID string) string { return "agent-" + callID }

func (lk *LiveKit) leg(room, caller, callID string, wait time.Duration) *roomLeg {
	return &roomLeg{lk: lk, cfg: roomleg.Config{
		LiveKit:              lk.cfg.LiveKit,
		Room:                 room,
		Identity:             agentIdentity(callID),
		Caller:               caller,
		CallerTimeout:        wait,
		SinglePeerConnection: !lk.cfg.TwoPeerConnections,
		DeleteRoom:           true, // a SIP call ends by deleting its room
	}}
}

// AttachLeg implements RoomMedia: join the room where the Dialler's
// answered call waits.
func (lk *LiveKit) AttachLeg(req fleetapi.AttachRequest) (Leg, error) {
	return lk.leg(req.Room, req.Participant, req.CallID, lk.cfg.CallerTimeout), nil
}

// DialoutLeg implements RoomMedia: place the SIP call, then join its room.
func (lk *LiveKit) DialoutLeg(req fleetapi.DialoutRequest) (Leg, error) {
	trunk := req.TrunkID
	if trunk == "" {
		trunk = lk.cfg.Trunk
	}
	if trunk == "" {
		return nil, errors.New("no outbound trunk: the request names none and the worker has no default")
	}
	room := req.Room
	if room == "" {
		room = "call-" + req.CallID
	}
	ring := lk.cfg.RingTimeout
	if req.RingTimeoutS > 0 {
		ring = time.Duration(req.RingTimeoutS) * time.Second
	}
	l := lk.leg(room, "sip-"+req.CallID, req.CallID, lk.cfg.CallerTimeout)
	l.dial = &lkapi.Dial{Trunk: trunk, Number: req.To, From: req.From, Room: room, Identity: "sip-" + req.CallID,
		Ringing: ring, WaitUntilAnswered: true}
	return l, nil
}

// WidgetLeg implements RoomMedia: join the widget's room and wait for the
// browser caller.
func (lk *LiveKit) WidgetLeg(req fleetapi.WidgetRequest) (Leg, error) {
	wait := lk.cfg.WidgetWait
	if req.WaitTimeoutS > 0 {
		wait = time.Duration(req.WaitTimeoutS) * time.Second
	}
	l := lk.leg(req.Room, req.Identity, req.CallID, wait)
	l.noCaller = CauseNoCaller
	return l, nil
}

// InboundCall is an inbound SIP call announced by a LiveKit webhook.
type InboundCall struct {
	Room        string
	Participant string // the SIP participant's identity
	SIPCallID   string
	To, From    string // the number called and the caller's
}

// ID is the call's identifier: LiveKit's SIP call id, else the room's name.
func (c InboundCall) ID() string {
	if c.SIPCallID != "" {
		return c.SIPCallID
	}
	return c.Room
}

// Inbound implements RoomMedia: it verifies a webhook's signature with the
// LiveKit key and secret and returns the inbound SIP call it announces;
// ok is false for any other event.
func (lk *LiveKit) Inbound(body []byte, authorization string) (InboundCall, bool, error) {
	ev, err := lk.api.VerifyWebhook(body, authorization)
	if err != nil {
		return InboundCall{}, false, err
	}
	p := ev.GetParticipant()
	a := p.GetAttributes()
	// Only an inbound call was placed by a dispatch rule; the SIP
	// participants of outbound calls (the Dialler's, a dial-out's) join
	// rooms too, and are not calls to take.
	if ev.GetEvent() != lkapi.EventParticipantJoined || !lkapi.IsSIP(p) || ev.GetRoom().GetName() == "" ||
		a[livekit.AttrSIPDispatchRuleID] == "" {
		return InboundCall{}, false, nil
	}
	return InboundCall{Room: ev.GetRoom().GetName(), Participant: p.GetIdentity(), SIPCallID: a[livekit.AttrSIPCallID],
		To: a[livekit.AttrSIPTrunkNumber], From: a[livekit.AttrSIPPhoneNumber]}, true, nil
}

// InboundLeg implements RoomMedia: join the inbound caller's room and
// publish at once (livekit-sip answers only a room that is not silent).
func (lk *LiveKit) InboundLeg(c InboundCall) (Leg, error) {
	return lk.leg(c.Room, c.Participant, c.ID(), lk.cfg.CallerTimeout), nil
}

// Refuse implements RoomMedia: it deletes the room of an inbound call this
// worker cannot take, which hangs the caller up (removing a ringing SIP
// participant may leave the phone ringing).
func (lk *LiveKit) Refuse(ctx context.Context, c InboundCall) error {
	return lk.api.DeleteRoom(ctx, c.Room)
}

// roomLeg is a call's leg in a LiveKit room: a roomleg.Leg whose session
// is the call's (the bridge hands the caller's side to Inbound).
type roomLeg struct {
	lk       *LiveKit
	cfg      roomleg.Config
	dial     *lkapi.Dial // placed before joining (dial-out)
	noCaller EndCause    // the cause when the caller never came (default no_answer)

	mu  sync.Mutex   // guards leg
	leg *roomleg.Leg // set once joined
}

// Run implements Leg.
func (r *roomLeg) Run(ctx context.Context, in Inbound) End {
	log := r.lk.log.With("room", r.cfg.Room)
	code := 0
	if r.dial != nil {
		if _, err := r.lk.api.CreateSIPParticipant(ctx, *r.dial); err != nil {
			r.deleteRoom(log)
			var f *lkapi.CallFailed
			switch {
			case ctx.Err() != nil:
				return End{}
			case errors.As(err, &f) && f.Busy():
				return End{Cause: CauseBusy, Reason: f.Error(), Code: f.Code}
			case errors.As(err, &f) && (f.Code == 408 || f.Code == 480 || f.Code == 487):
				return End{Cause: CauseNoAnswer, Reason: f.Error(), Code: f.Code}
			case errors.As(err, &f):
				return End{Cause: CauseSetupFailed, Reason: f.Error(), Code: f.Code}
			}
			return End{Cause: CauseSetupFailed, Reason: "place call: " + err.Error()}
		}
		code = 200
	}
	l, err := roomleg.Join(ctx, r.cfg, log)
	if err != nil {
		r.deleteRoom(log)
		if ctx.Err() != nil {
			return End{}
		}
		return End{Cause: CauseSetupFailed, Reason: err.Error(), Code: code}
	}
	r.mu.Lock()
	r.leg = l
	r.mu.Unlock()
	res, err := l.Run(ctx, bridge{in}, agent.Call{})
	if err != nil {
		return End{Cause: CauseAgentError, Reason: err.Error(), Code: code}
	}
	end := End{Reason: res.Reason, Code: code}
	switch res.Cause {
	case roomleg.CauseCallerLeft:
		end.Cause, end.Reason = CauseCallerHangup, "caller left"
	case roomleg.CauseRoomDeleted:
		end.Cause, end.Reason = CauseRoomDeleted, "room deleted"
	case roomleg.CauseHangup:
		end.Cause = CauseAgentHangup
	case roomleg.CauseMaxDuration:
		end.Cause = CauseMaxDuration
	case roomleg.CauseNoCaller:
		end.Cause, end.Reason = r.noCaller, "the caller never joined"
		if end.Cause == "" {
			end.Cause = CauseNoAnswer
		}
	case roomleg.CauseFailed:
		end.Cause = CauseAgentError
	case roomleg.CauseDisconnected:
		end.Cause, end.Reason = CauseLost, "left the room: "+res.Reason
	default: // canceled: the call's own end wins
		return End{}
	}
	return end
}

func (r *roomLeg) deleteRoom(log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.lk.api.DeleteRoom(ctx, r.cfg.Room); err != nil {
		log.Warn("delete room", "err", err)
	}
}

func (r *roomLeg) joined() (*roomleg.Leg, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.leg == nil {
		return nil, errCallEnded
	}
	return r.leg, nil
}

// Audio implements Leg.
func (r *roomLeg) Audio(pcm []int16) error {
	l, err := r.joined()
	if err != nil {
		return err
	}
	return l.Audio(pcm)
}

// Mark implements Leg.
func (r *roomLeg) Mark(name string) error {
	l, err := r.joined()
	if err != nil {
		return err
	}
	return l.Mark(name)
}

// Clear implements Leg.
func (r *roomLeg) Clear() error {
	l, err := r.joined()
	if err != nil {
		return err
	}
	return l.Clear()
}

// Close implements Leg: roomleg.Leg.Run has left (and deleted) the room.
func (r *roomLeg) Close(End) {
	if l, err := r.joined(); err == nil {
		l.Close()
	}
}

// bridge is the session roomleg runs: it hands the caller's side to the
// call, whose own session answers through the call (agent.Sink → Leg).
type bridge struct{ in Inbound }

func (b bridge) NewSession(agent.Call, agent.Sink) (agent.Session, error) { return b, nil }
func (b bridge) Start(context.Context) error                              { return b.in.Answer() }
func (b bridge) OnAudio(_ context.Context, pcm []int16) error             { return b.in.CallerAudio(pcm) }
func (b bridge) OnDTMF(_ context.Context, d string) error                 { return b.in.CallerDTMF(d) }
func (b bridge) OnMark(_ context.Context, name string) error              { return b.in.MarkPlayed(name) }
func (b bridge) Close() error                                             { return nil }
