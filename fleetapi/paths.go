package fleetapi

// Route paths of a worker (on its Unix socket, or behind the fleet host's
// nginx) and of the daemon's HTTP listener.
const (
	// PathHealth is a worker's GET /health (no authentication).
	PathHealth = "/health"
	// PathTwilio is the Twilio Media Streams WebSocket.
	PathTwilio = "/ws/twilio"
	// PathStreams prefixes every carrier's media-stream WebSocket:
	// /ws/twilio, /ws/exotel, /ws/plivo, /ws/telnyx, /ws/vonage.
	PathStreams = "/ws/"
	// PathAttach is POST /attach: the Dialler hands over an answered call.
	PathAttach = "/attach"
	// PathDialout is POST /livekit/dialout: the worker places a SIP call.
	PathDialout = "/livekit/dialout"
	// PathWidget is POST /livekit/widget: a browser caller in a LiveKit room.
	PathWidget = "/livekit/widget"
	// PathDispatch is POST /livekit/dispatch: LiveKit's webhook for an
	// inbound SIP participant. nginx never retries it.
	PathDispatch = "/livekit/dispatch"

	// PathFleetHealth is the daemon's GET /health/fleet.
	PathFleetHealth = "/health/fleet"
	// PathMetrics is the daemon's Prometheus endpoint.
	PathMetrics = "/metrics"
)

// StreamPath is the media-stream WebSocket route of carrier (its
// protocol's name, e.g. "exotel").
func StreamPath(carrier string) string { return PathStreams + carrier }
