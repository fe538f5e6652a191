package lkapi

import (
	"bytes"
	"fmt"
	"net/http"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"
)

// Webhook event names this platform acts on.
const (
	EventParticipantJoined = "participant_joined"
	EventParticipantLeft   = "participant_left"
	EventRoomStarted       = "room_started"
	EventRoomFinished      = "room_finished"
)

// VerifyWebhook checks a LiveKit webhook's signature (the Authorization
// header, a JWT signed with the LiveKit secret whose sha256 claim is the
// body's hash) and returns the event. Any failure is an error: the request
// did not come from this LiveKit deployment.
func VerifyWebhook(key, secret string, body []byte, authorization string) (*livekit.WebhookEvent, error) {
	r, err := http.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	r.Header.Set("Authorization", authorization)
	r.Header.Set("Content-Type", "application/webhook+json")
	ev, err := webhook.ReceiveWebhookEvent(r, auth.NewSimpleKeyProvider(key, secret))
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	return ev, nil
}

// VerifyWebhook is the package function with the client's key and secret.
func (c *Client) VerifyWebhook(body []byte, authorization string) (*livekit.WebhookEvent, error) {
	return VerifyWebhook(c.cfg.Key, c.cfg.Secret, body, authorization)
}

// IsSIP reports whether p is a SIP participant (a phone).
func IsSIP(p *livekit.ParticipantInfo) bool {
	return p != nil && p.Kind == livekit.ParticipantInfo_SIP
}
