package lkapi

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Config is how to reach one LiveKit deployment. Every field is required.
type Config struct {
	// URL is the LiveKit server, ws(s):// or http(s)://.
	URL string
	// Key and Secret are a LiveKit API key pair.
	Key, Secret string
}

// minSecret is the shortest secret livekit-server accepts.
const minSecret = 32

// Validate names every bad field; field names are prefixed with prefix (for
// example "VOX_LIVEKIT_") so that the message points at the setting.
func (c Config) Validate(prefix string) error {
	var errs []error
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		errs = append(errs, fmt.Errorf("%sURL is required", prefix))
	case err != nil:
		errs = append(errs, fmt.Errorf("%sURL %q: %w", prefix, c.URL, err))
	case u.Host == "" || !(u.Scheme == "ws" || u.Scheme == "wss" || u.Scheme == "http" || u.Scheme == "https"):
		errs = append(errs, fmt.Errorf("%sURL %q: want ws://, wss://, http:// or https:// with a host", prefix, c.URL))
	}
	if c.Key == "" {
		errs = append(errs, fmt.Errorf("%sAPI_KEY is required", prefix))
	}
	if c.Secret == "" {
		errs = append(errs, fmt.Errorf("%sAPI_SECRET is required", prefix))
	} else if len(c.Secret) < minSecret {
		errs = append(errs, fmt.Errorf("%sAPI_SECRET is %d characters, want at least %d", prefix, len(c.Secret), minSecret))
	}
	return errors.Join(errs...)
}

// WSURL is the URL participants join with (ws:// or wss://).
func (c Config) WSURL() string {
	switch {
	case strings.HasPrefix(c.URL, "http://"):
		return "ws://" + strings.TrimPrefix(c.URL, "http://")
	case strings.HasPrefix(c.URL, "https://"):
		return "wss://" + strings.TrimPrefix(c.URL, "https://")
	}
	return c.URL
}

// Client calls one LiveKit deployment's server API. It is safe for
// concurrent use.
type Client struct {
	cfg   Config
	rooms *lksdk.RoomServiceClient
	sip   *lksdk.SIPClient
}

// New returns a Client for cfg, which must be valid.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate("livekit "); err != nil {
		return nil, err
	}
	return &Client{
		cfg:   cfg,
		rooms: lksdk.NewRoomServiceClient(cfg.URL, cfg.Key, cfg.Secret),
		sip:   lksdk.NewSIPClient(cfg.URL, cfg.Key, cfg.Secret),
	}, nil
}

// Config returns the client's configuration.
func (c *Client) Config() Config { return c.cfg }

// Dial describes an outbound SIP call placed into a room.
type Dial struct {
	Trunk    string // outbound trunk id
	Number   string // the number to call (E.164)
	From     string // caller id; "" uses one of the trunk's numbers
	Room     string // room the SIP participant joins
	Identity string // the SIP participant's identity
	Name     string // its display name (optional)
	// Ringing is how long to let the phone ring; 0 means LiveKit's default.
	Ringing time.Duration
	// MaxDuration ends the call after this long; 0 means no limit.
	MaxDuration time.Duration
	// WaitUntilAnswered makes CreateSIPParticipant return only once the
	// call is answered (or has failed).
	WaitUntilAnswered bool
	// Attributes are set on the SIP participant.
	Attributes map[string]string
}

// Dialled is a call LiveKit placed.
type Dialled struct {
	ParticipantID       string
	ParticipantIdentity string
	SIPCallID           string
}

// CallFailed is the error of a call the far end refused or never answered;
// Code is its SIP status (486 busy, 408/480 no answer, …). Use errors.As.
type CallFailed struct {
	Code   int
	Status string
	Err    error
}

func (e *CallFailed) Error() string {
	return fmt.Sprintf("sip call failed: %d %s", e.Code, e.Status)
}

func (e *CallFailed) Unwrap() error { return e.Err }

// Busy reports whether the callee was busy (SIP 486 or 600).
func (e *CallFailed) Busy() bool { return e.Code == 486 || e.Code == 600 }

// NoAnswer reports whether the call rang out unanswered (SIP 408, 480 or
// 487).
func (e *CallFailed) NoAnswer() bool { return e.Code == 408 || e.Code == 480 || e.Code == 487 }

// CreateSIPParticipant places d. With WaitUntilAnswered it returns once the
// callee answered, or a *CallFailed with the SIP status.
func (c *Client) CreateSIPParticipant(ctx context.Context, d Dial) (Dialled, error) {
	req := &livekit.CreateSIPParticipantRequest{
		SipTrunkId:            d.Trunk,
		SipCallTo:             d.Number,
		SipNumber:             d.From,
		RoomName:              d.Room,
		ParticipantIdentity:   d.Identity,
		ParticipantName:       d.Name,
		ParticipantAttributes: d.Attributes,
		WaitUntilAnswered:     d.WaitUntilAnswered,
	}
	if d.Ringing > 0 {
		req.RingingTimeout = durationpb.New(d.Ringing)
	}
	if d.MaxDuration > 0 {
		req.MaxCallDuration = durationpb.New(d.MaxDuration)
	}
	info, err := c.sip.CreateSIPParticipant(ctx, req)
	if err != nil {
		if f := callFailed(err); f != nil {
			return Dialled{}, f
		}
		return Dialled{}, fmt.Errorf("create sip participant in %q to %q: %w", d.Room, d.Number, err)
	}
	return Dialled{
		ParticipantID:       info.ParticipantId,
		ParticipantIdentity: info.ParticipantIdentity,
		SIPCallID:           info.SipCallId,
	}, nil
}

// callFailed reads the SIP status LiveKit attaches to a failed call, from the
// error's details or from the Twirp metadata the server sets.
func callFailed(err error) *CallFailed {
	if st := lksdk.SIPStatusFrom(err); st != nil && st.Code >= 300 {
		return &CallFailed{Code: int(st.Code), Status: st.Status, Err: err}
	}
	var te twirp.Error
	if errors.As(err, &te) {
		if code, perr := strconv.Atoi(te.Meta("sip_status_code")); perr == nil && code >= 300 {
			return &CallFailed{Code: code, Status: te.Meta("sip_status"), Err: err}
		}
	}
	return nil
}

// notFound reports whether err is LiveKit's "no such room/participant".
func notFound(err error) bool {
	var te twirp.Error
	return errors.As(err, &te) && te.Code() == twirp.NotFound
}

// DeleteRoom deletes room, disconnecting everyone in it (a SIP participant
// is hung up). A room that does not exist is not an error.
func (c *Client) DeleteRoom(ctx context.Context, room string) error {
	_, err := c.rooms.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: room})
	if err != nil && !notFound(err) {
		return fmt.Errorf("delete room %q: %w", room, err)
	}
	return nil
}

// RemoveParticipant removes identity from room. One already gone is not an
// error.
func (c *Client) RemoveParticipant(ctx context.Context, room, identity string) error {
	_, err := c.rooms.RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: room, Identity: identity})
	if err != nil && !notFound(err) {
		return fmt.Errorf("remove %q from room %q: %w", identity, room, err)
	}
	return nil
}

// ListParticipants lists the participants of room.
func (c *Client) ListParticipants(ctx context.Context, room string) ([]*livekit.ParticipantInfo, error) {
	res, err := c.rooms.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: room})
	if err != nil {
		if notFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("list participants of %q: %w", room, err)
	}
	return res.Participants, nil
}

// RoomExists reports whether room is open.
func (c *Client) RoomExists(ctx context.Context, room string) (bool, error) {
	res, err := c.rooms.ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{room}})
	if err != nil {
		return false, fmt.Errorf("list rooms: %w", err)
	}
	return len(res.Rooms) > 0, nil
}

// JoinToken mints a token that lets identity join room as a standard
// participant (a widget caller), valid for ttl.
func (c *Client) JoinToken(room, identity, name string, ttl time.Duration) (string, error) {
	return Token(c.cfg, room, identity, name, livekit.ParticipantInfo_STANDARD, ttl)
}

// Token mints a join token for identity in room with the given participant
// kind, valid for ttl.
func Token(cfg Config, room, identity, name string, kind livekit.ParticipantInfo_Kind, ttl time.Duration) (string, error) {
	if room == "" || identity == "" {
		return "", errors.New("token: room and identity are required")
	}
	at := auth.NewAccessToken(cfg.Key, cfg.Secret).
		SetIdentity(identity).
		SetName(name).
		SetKind(kind).
		SetValidFor(ttl).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room})
	tok, err := at.ToJWT()
	if err != nil {
		return "", fmt.Errorf("token for %q in %q: %w", identity, room, err)
	}
	return tok, nil
}
