package lkplace

import (
	"context"
	"errors"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"github.com/voxplatform/vox/dialler"
	"github.com/voxplatform/vox/lkapi"
)

// Placer is a dialler.Placer over a LiveKit server.
type Placer struct {
	lk *lkapi.Client
}

// New returns a Placer using lk.
func New(lk *lkapi.Client) *Placer { return &Placer{lk: lk} }

// Place implements dialler.Placer.
func (p *Placer) Place(ctx context.Context, d dialler.Dial) (dialler.Placed, error) {
	start := time.Now()
	// The request itself waits for the answer: bound it by the ringing
	// timeout and a margin for LiveKit's own set-up.
	cctx, cancel := context.WithTimeout(ctx, d.RingTimeout+15*time.Second)
	defer cancel()
	_, err := p.lk.CreateSIPParticipant(cctx, lkapi.Dial{
		Trunk: d.TrunkID, Number: d.To, From: d.From, Room: d.Room, Identity: d.Identity,
		Ringing: d.RingTimeout, MaxDuration: d.MaxCall, WaitUntilAnswered: true,
		Attributes: map[string]string{"vox.call_id": d.CallID, "vox.campaign_id": d.CampaignID, "vox.contact_id": d.ContactID},
	})
	ring := time.Since(start)
	if err == nil {
		return dialler.Placed{Result: dialler.Answered, SIPStatus: 200, Ring: ring}, nil
	}
	dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer dcancel()
	// Given up by the dialler (the pacer hanging up a ringing dial, or a
	// drain running out): the callee may have answered a moment before. A
	// person on the line is handed on, not hung up.
	if ctx.Err() != nil && p.answered(dctx, d) {
		return dialler.Placed{Result: dialler.Answered, SIPStatus: 200, Ring: ring}, nil
	}
	// Whatever happened, no half-placed call stays behind.
	_ = p.lk.DeleteRoom(dctx, d.Room)
	var f *lkapi.CallFailed
	if errors.As(err, &f) {
		res := dialler.Failed
		switch {
		case f.Busy():
			res = dialler.Busy
		case f.NoAnswer():
			res = dialler.NoAnswer
		}
		return dialler.Placed{Result: res, SIPStatus: f.Code, Ring: ring, Reason: f.Error()}, nil
	}
	// LiveKit gave up waiting for the answer (its own request deadline,
	// or ours): nobody answered in time.
	var te twirp.Error
	if (cctx.Err() != nil && ctx.Err() == nil) || (errors.As(err, &te) && te.Code() == twirp.DeadlineExceeded) {
		return dialler.Placed{Result: dialler.NoAnswer, Ring: ring, Reason: "no answer: " + err.Error()}, nil
	}
	return dialler.Placed{Result: dialler.Failed, Ring: ring, Reason: err.Error()}, nil
}

// answered reports whether the callee of d is in its room with an answered
// call (LiveKit SIP's participant attribute sip.callStatus "active"; the
// participant is in the room while it rings too).
func (p *Placer) answered(ctx context.Context, d dialler.Dial) bool {
	ps, err := p.lk.ListParticipants(ctx, d.Room)
	if err != nil {
		return false
	}
	for _, pi := range ps {
		if pi.Identity == d.Identity && pi.Attributes[livekit.AttrSIPCallStatus] == "active" {
			return true
		}
	}
	return false
}

// Hangup implements dialler.Placer: deleting the room hangs the callee up.
func (p *Placer) Hangup(ctx context.Context, d dialler.Dial) error {
	return p.lk.DeleteRoom(ctx, d.Room)
}

// Live implements dialler.Placer: the attempt is live while its callee is
// in its room.
func (p *Placer) Live(ctx context.Context, d dialler.Dial) (bool, error) {
	ps, err := p.lk.ListParticipants(ctx, d.Room)
	if err != nil {
		return false, err
	}
	for _, pi := range ps {
		if pi.Identity == d.Identity {
			return true, nil
		}
	}
	return false, nil
}
