package testlivekit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/rpc"
	"github.com/livekit/psrpc"
	"github.com/livekit/psrpc/pkg/info"
	"github.com/livekit/psrpc/pkg/rand"
	"github.com/livekit/psrpc/pkg/server"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/redis/go-redis/v9"
)

// Answer is what a stand-in phone does when called.
type Answer int

// The phones the SIP stand-in can play.
const (
	Answers  Answer = iota // picks up after Phone.RingFor
	Busy                   // refuses with 486 Busy Here after Phone.RingFor
	NoAnswer               // rings until the call's ringing timeout: 480
	Rejects                // declines with 603 after Phone.RingFor
)

// Phone is the far end of a call placed through the SIP stand-in.
type Phone struct {
	Answer Answer
	// RingFor is how long it rings before answering or refusing; 0 means
	// 200 ms.
	RingFor time.Duration
	// Say is played (8 kHz PCM) SayAfter the call was answered.
	Say      []int16
	SayAfter time.Duration
	// HangupAfter hangs the phone up this long after answering; 0 never.
	HangupAfter time.Duration
	// AnsweredLate delays the answer to a CreateSIPParticipant that waits
	// until answered by this long after the phone picked up (a slow
	// signalling path), so that the caller may give up on a call that is
	// in fact answered.
	AnsweredLate time.Duration
}

// Call is one call the stand-in carried, outbound or inbound.
type Call struct {
	SIPCallID string
	Room      string
	Identity  string
	To, From  string
	Inbound   bool
	// Request is the server's request for an outbound call.
	Request *rpc.InternalCreateSIPParticipantRequest

	answered chan struct{}
	ended    chan struct{}

	mu     sync.Mutex // guards phone, status, endOnce use
	phone  *Participant
	status int
	ended1 sync.Once
}

// Answered is closed when the call was answered.
func (c *Call) Answered() <-chan struct{} { return c.answered }

// Ended is closed when the call is over (refused, hung up, or the phone
// was disconnected from the room).
func (c *Call) Ended() <-chan struct{} { return c.ended }

// Status is the SIP status the call ended with (200 once answered).
func (c *Call) Status() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// Phone is the phone's participant in the room (nil before it joined).
func (c *Call) Phone() *Participant {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.phone
}

// Hangup hangs the phone up: it leaves the room.
func (c *Call) Hangup() { c.end(0) }

func (c *Call) end(status int) {
	c.ended1.Do(func() {
		c.mu.Lock()
		if status != 0 && c.status == 0 {
			c.status = status
		}
		p := c.phone
		c.mu.Unlock()
		if p != nil {
			p.Leave()
		}
		close(c.ended)
	})
}

// SIP stands in for livekit-sip on the server's Redis bus: it serves
// CreateSIPParticipant (the phone is a scripted Phone joining the room as a
// SIP participant) and places inbound calls through the server's own SIP
// trunks and dispatch rules (EvaluateSIPDispatchRules).
type SIP struct {
	srv *Server
	rc  *redis.Client
	rpc *server.RPCServer
	io  rpc.IOInfoClient

	mu     sync.Mutex // guards phones, def, calls, closed
	phones map[string]Phone
	def    Phone
	calls  []*Call
	closed bool
	wg     sync.WaitGroup
}

// StartSIP connects the stand-in to s's bus; it stops when the test ends.
// Phones answer by default (SetPhone changes that per number).
func (s *Server) StartSIP(t testing.TB) *SIP {
	t.Helper()
	sip, err := s.LaunchSIP()
	if err != nil {
		t.Fatalf("testlivekit: sip stand-in: %v", err)
	}
	t.Cleanup(sip.Close)
	return sip
}

// LaunchSIP is StartSIP for TestMain and benchmarks: the caller must Close.
func (s *Server) LaunchSIP() (*SIP, error) {
	rc := redis.NewClient(&redis.Options{Addr: s.Redis.Addr()})
	bus := psrpc.NewRedisMessageBus(rc)
	io, err := rpc.NewIOInfoClient(bus)
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("io client: %w", err)
	}
	sip := &SIP{srv: s, rc: rc, io: io, phones: map[string]Phone{}}
	// The service as livekit-server v1.9.11 calls it (protocol
	// v1.43): CreateSIPParticipant with affinity, claimed, not queued. The
	// generated server of the protocol version this module builds with
	// registers it differently, so it is defined here by hand.
	sd := &info.ServiceDefinition{Name: "SIPInternal", ID: rand.NewServerID()}
	sd.RegisterMethod("CreateSIPParticipant", true, false, true, false)
	sip.rpc = server.NewRPCServer(sd, bus)
	err = server.RegisterHandler(sip.rpc, "CreateSIPParticipant", []string{""}, sip.createSIPParticipant,
		func(context.Context, *rpc.InternalCreateSIPParticipantRequest) float32 { return 1 })
	if err != nil {
		sip.rpc.Close(true)
		rc.Close()
		return nil, fmt.Errorf("register CreateSIPParticipant: %w", err)
	}
	return sip, nil
}

// SetPhone sets how the phone at number behaves; number "" sets the
// default for numbers without a phone of their own.
func (s *SIP) SetPhone(number string, p Phone) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if number == "" {
		s.def = p
		return
	}
	s.phones[number] = p
}

func (s *SIP) phone(number string) Phone {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.phones[number]; ok {
		return p
	}
	return s.def
}

// Calls returns every call so far.
func (s *SIP) Calls() []*Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Call(nil), s.calls...)
}

// WaitCall waits for a call to number and returns it.
func (s *SIP) WaitCall(t testing.TB, number string, d time.Duration) *Call {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		for _, c := range s.Calls() {
			if c.To == number {
				return c
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no call to %s within %v", number, d)
	return nil
}

func (s *SIP) track(c *Call) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("sip stand-in closed")
	}
	s.calls = append(s.calls, c)
	s.wg.Add(1)
	return nil
}

// createSIPParticipant is the outbound call: ring, then answer or refuse
// with a SIP status, as the Phone for the number says.
func (s *SIP) createSIPParticipant(ctx context.Context, req *rpc.InternalCreateSIPParticipantRequest) (*rpc.InternalCreateSIPParticipantResponse, error) {
	start := time.Now()
	ph := s.phone(req.CallTo)
	c := &Call{
		SIPCallID: req.SipCallId, Room: req.RoomName, Identity: req.ParticipantIdentity,
		To: req.CallTo, From: req.Number, Request: req,
		answered: make(chan struct{}), ended: make(chan struct{}),
	}
	if err := s.track(c); err != nil {
		return nil, err
	}
	ring := ph.RingFor
	if ring <= 0 {
		ring = 200 * time.Millisecond
	}
	ringingTimeout := 30 * time.Second
	if req.RingingTimeout != nil && req.RingingTimeout.AsDuration() > 0 {
		ringingTimeout = req.RingingTimeout.AsDuration()
	}
	var fail *livekit.SIPStatus
	switch ph.Answer {
	case Busy:
		fail = &livekit.SIPStatus{Code: livekit.SIPStatusCode_SIP_STATUS_BUSY_HERE, Status: "Busy Here"}
	case Rejects:
		fail = &livekit.SIPStatus{Code: livekit.SIPStatusCode_SIP_STATUS_GLOBAL_DECLINE, Status: "Decline"}
	case NoAnswer:
		ring = ringingTimeout
	}
	if ph.Answer == NoAnswer || ring > ringingTimeout {
		// 408 would read as a timed-out request (DeadlineExceeded) and be
		// retried on the way back; carriers answer an unanswered call with 480.
		fail = &livekit.SIPStatus{Code: livekit.SIPStatusCode_SIP_STATUS_TEMPORARILY_UNAVAILABLE, Status: "Temporarily Unavailable"}
		ring = ringingTimeout
	}

	// Like livekit-sip, the participant is in the room while it rings.
	p, err := s.join(ctx, c, req.ParticipantAttributes, "dialing", 3)
	if err != nil {
		c.end(500)
		s.wg.Done()
		return nil, psrpc.NewErrorf(psrpc.Internal, "phone join: %v", err)
	}
	ringDone := make(chan struct{})
	go func() {
		defer s.wg.Done()
		select {
		case <-time.After(time.Until(start.Add(ring))): // it rang while the phone joined
		case <-c.ended:
			close(ringDone)
			return
		}
		if fail != nil {
			c.end(int(fail.Code))
			close(ringDone)
			return
		}
		s.answer(c, p, ph, req.MaxCallDuration.AsDuration())
		close(ringDone)
		s.hold(c, p, ph, req.MaxCallDuration.AsDuration())
	}()
	resp := &rpc.InternalCreateSIPParticipantResponse{
		ParticipantId: p.Room.LocalParticipant.SID(), ParticipantIdentity: c.Identity, SipCallId: c.SIPCallID,
	}
	if !req.WaitUntilAnswered {
		return resp, nil
	}
	select {
	case <-ringDone:
	case <-ctx.Done():
		c.end(487)
		return nil, psrpc.NewError(psrpc.DeadlineExceeded, ctx.Err())
	}
	select {
	case <-c.answered:
		select {
		case <-time.After(ph.AnsweredLate):
		case <-ctx.Done():
		}
		return resp, nil
	default:
	}
	if fail != nil {
		return nil, fail
	}
	return nil, &livekit.SIPStatus{Code: livekit.SIPStatusCode_SIP_STATUS_REQUEST_TERMINATED,
		Status: "Request Terminated: the phone left the room while ringing: " + string(p.reason)}
}

// join puts the phone in the call's room as a SIP participant, trying up to
// attempts times.
func (s *SIP) join(ctx context.Context, c *Call, attrs map[string]string, status string, attempts int) (*Participant, error) {
	a := map[string]string{livekit.AttrSIPCallStatus: status, livekit.AttrSIPCallID: c.SIPCallID}
	for k, v := range attrs {
		a[k] = v
	}
	yes := true
	tok, err := auth.NewAccessToken(s.srv.Key, s.srv.Secret).
		SetIdentity(c.Identity).SetName(c.Identity).
		SetKind(livekit.ParticipantInfo_SIP).SetAttributes(a).SetValidFor(time.Hour).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: c.Room, CanUpdateOwnMetadata: &yes}).
		ToJWT()
	if err != nil {
		return nil, err
	}
	// Two PeerConnections (one triggers a data race inside pion under the
	// race detector). An outbound join that fails (a loaded machine) is
	// retried, as the worker's are.
	var p *Participant
	for attempt := 1; ; attempt++ {
		p, err = JoinParticipant(ctx, s.srv.URL, tok, JoinOptions{})
		if err == nil {
			break
		}
		if attempt >= attempts || ctx.Err() != nil {
			return nil, err
		}
	}
	c.mu.Lock()
	c.phone = p
	c.mu.Unlock()
	go func() {
		select {
		case <-p.Disconnected(): // the room was deleted or the phone removed
			c.end(0)
		case <-c.ended:
		}
	}()
	return p, nil
}

func (s *SIP) answer(c *Call, p *Participant, ph Phone, _ time.Duration) {
	c.mu.Lock()
	c.status = 200
	c.mu.Unlock()
	p.Room.LocalParticipant.SetAttributes(map[string]string{livekit.AttrSIPCallStatus: "active"})
	// As livekit-sip does, the participant is marked active before the
	// call counts as answered (and CreateSIPParticipant returns): wait
	// until the server has the attribute.
	s.waitActive(c)
	close(c.answered)
	if len(ph.Say) > 0 {
		select {
		case <-time.After(ph.SayAfter):
			_ = p.Play(ph.Say)
		case <-c.ended:
		}
	}
}

// waitActive waits (up to 2 s) until the server shows c's participant with
// the SIP call status "active".
func (s *SIP) waitActive(c *Call) {
	rooms := lksdk.NewRoomServiceClient(s.srv.HTTPURL, s.srv.Key, s.srv.Secret)
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		res, err := rooms.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: c.Room})
		cancel()
		if err == nil {
			for _, pi := range res.Participants {
				if pi.Identity == c.Identity && pi.Attributes[livekit.AttrSIPCallStatus] == "active" {
					return
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hold keeps an answered call up until the phone hangs up, the maximum
// duration passes or the call ends otherwise.
func (s *SIP) hold(c *Call, _ *Participant, ph Phone, maxDur time.Duration) {
	var hang, maxC <-chan time.Time
	if ph.HangupAfter > 0 {
		hang = time.After(ph.HangupAfter)
	}
	if maxDur > 0 {
		maxC = time.After(maxDur)
	}
	select {
	case <-hang:
		c.end(0)
	case <-maxC:
		c.end(0)
	case <-c.ended:
	}
}

// Dial places an inbound call from one number to another: the server's
// trunks and dispatch rules choose the room (EvaluateSIPDispatchRules), the
// phone joins it as a SIP participant, and the call counts as answered once
// the phone hears a track in the room (livekit-sip answers only then).
func (s *SIP) Dial(ctx context.Context, from, to string, ph Phone) (*Call, error) {
	id := "SCL_" + rand.NewString()[:12]
	res, err := s.io.EvaluateSIPDispatchRules(ctx, &rpc.EvaluateSIPDispatchRulesRequest{
		Call: &rpc.SIPCall{
			LkCallId: id, SourceIp: "127.0.0.1",
			From:    &livekit.SIPUri{User: from, Host: "127.0.0.1"},
			To:      &livekit.SIPUri{User: to, Host: "127.0.0.1"},
			Address: &livekit.SIPUri{User: to, Host: "127.0.0.1"},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("evaluate dispatch rules for %s: %w", to, err)
	}
	if res.Result != rpc.SIPDispatchResult_ACCEPT && res.Result != rpc.SIPDispatchResult_LEGACY_ACCEPT_OR_PIN {
		return nil, fmt.Errorf("dispatch rules for %s: %s", to, res.Result)
	}
	c := &Call{
		SIPCallID: id, Room: res.RoomName, Identity: res.ParticipantIdentity, To: to, From: from, Inbound: true,
		answered: make(chan struct{}), ended: make(chan struct{}),
	}
	if err := s.track(c); err != nil {
		return nil, err
	}
	// An inbound call joins once, as livekit-sip does: a retry would make
	// again the room a worker deleted to refuse the call.
	p, err := s.join(ctx, c, res.ParticipantAttributes, "ringing", 1)
	if err != nil {
		c.end(500)
		s.wg.Done()
		return nil, fmt.Errorf("phone join %s: %w", res.RoomName, err)
	}
	go func() {
		defer s.wg.Done()
		for p.HeardLen() == 0 {
			select {
			case <-c.ended:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		s.answer(c, p, ph, 0)
		s.hold(c, p, ph, 0)
	}()
	return c, nil
}

// Close hangs up every call and leaves the bus. psrpc's Redis bus keeps
// its goroutines for the life of the process (it has no Close).
func (s *SIP) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	calls := s.calls
	s.mu.Unlock()
	for _, c := range calls {
		c.end(0)
	}
	s.wg.Wait()
	s.rpc.Close(true)
	_ = s.rc.Close()
}
