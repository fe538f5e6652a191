package runtimeapi

// FleetChoice is the body of GET /runtime/fleets/select?org_id=…: a fleet
// host with a free slot for a call of that organisation.
type FleetChoice struct {
	// FleetID is the host's VOXFLEET_FLEET_ID: scope the tokens sent to
	// it to this id (svcauth.FleetAudience).
	FleetID string `json:"fleet_id"`
	// URL is the host's base URL (no trailing slash).
	URL string `json:"url"`
	// Free is the number of free slots left after this selection, as last
	// polled.
	Free int `json:"free"`
}

// Runtime API paths; a path ending in "/" takes one escaped path segment.
const (
	PathAgent         = "/runtime/agents/"           // + id
	PathAgentByNumber = "/runtime/agents/by-number/" // + url.PathEscape(e164)
	PathCall          = "/runtime/calls/"            // + call id
	PathFleetSelect   = "/runtime/fleets/select"     // ?org_id=
)
