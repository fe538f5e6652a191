package lkapi

import (
	"context"
	"fmt"

	"github.com/livekit/protocol/livekit"
)

// CreateOutboundTrunk creates an outbound SIP trunk to address that may call
// from numbers, and returns its id.
func (c *Client) CreateOutboundTrunk(ctx context.Context, name, address string, numbers []string) (string, error) {
	t, err := c.sip.CreateSIPOutboundTrunk(ctx, &livekit.CreateSIPOutboundTrunkRequest{
		Trunk: &livekit.SIPOutboundTrunkInfo{Name: name, Address: address, Numbers: numbers},
	})
	if err != nil {
		return "", fmt.Errorf("create outbound trunk %q: %w", name, err)
	}
	return t.SipTrunkId, nil
}

// CreateInboundTrunk creates an inbound SIP trunk accepting calls to numbers
// and returns its id.
func (c *Client) CreateInboundTrunk(ctx context.Context, name string, numbers []string) (string, error) {
	t, err := c.sip.CreateSIPInboundTrunk(ctx, &livekit.CreateSIPInboundTrunkRequest{
		Trunk: &livekit.SIPInboundTrunkInfo{Name: name, Numbers: numbers},
	})
	if err != nil {
		return "", fmt.Errorf("create inbound trunk %q: %w", name, err)
	}
	return t.SipTrunkId, nil
}

// DispatchRule says which room an inbound call lands in.
type DispatchRule struct {
	Name   string
	Trunks []string // inbound trunk ids; none means every trunk
	// RoomPrefix puts each call in a room of its own named
	// RoomPrefix + "_" + caller number + "_" + random suffix.
	RoomPrefix string
	// Room puts every call in this one room (when RoomPrefix is "").
	Room string
	// Attributes are set on the inbound SIP participant.
	Attributes map[string]string
}

// CreateDispatchRule creates r and returns its id.
func (c *Client) CreateDispatchRule(ctx context.Context, r DispatchRule) (string, error) {
	rule := &livekit.SIPDispatchRule{}
	switch {
	case r.RoomPrefix != "":
		rule.Rule = &livekit.SIPDispatchRule_DispatchRuleIndividual{
			DispatchRuleIndividual: &livekit.SIPDispatchRuleIndividual{RoomPrefix: r.RoomPrefix},
		}
	case r.Room != "":
		rule.Rule = &livekit.SIPDispatchRule_DispatchRuleDirect{
			DispatchRuleDirect: &livekit.SIPDispatchRuleDirect{RoomName: r.Room},
		}
	default:
		return "", fmt.Errorf("dispatch rule %q: RoomPrefix or Room is required", r.Name)
	}
	info, err := c.sip.CreateSIPDispatchRule(ctx, &livekit.CreateSIPDispatchRuleRequest{
		DispatchRule: &livekit.SIPDispatchRuleInfo{
			Name:       r.Name,
			Rule:       rule,
			TrunkIds:   r.Trunks,
			Attributes: r.Attributes,
		},
	})
	if err != nil {
		return "", fmt.Errorf("create dispatch rule %q: %w", r.Name, err)
	}
	return info.SipDispatchRuleId, nil
}
