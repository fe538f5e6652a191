package config

import (
	"net/netip"
	"net/url"
	"regexp"
	"strings"

	"github.com/voxplatform/vox/svcauth"
)

// Fleets holds the fleet registry's settings.
type Fleets struct {
	// Platform are the fleet hosts run by the platform itself, which serve
	// calls of every organisation (FLEET_PLATFORM, "id=url,…"). Fleets that
	// organisations register serve only their own organisation's calls.
	Platform []PlatformFleet
	// AllowedNets are the private, loopback or link-local networks an
	// organisation's fleet URL may still reach (FLEET_ALLOWED_NETS, CIDRs or
	// addresses, default none): every other such address is refused.
	AllowedNets []netip.Prefix
	// MaxPerOrg is how many fleets one organisation may register
	// (FLEET_MAX_PER_ORG, default 10).
	MaxPerOrg int
}

// PlatformFleet is one fleet host of FLEET_PLATFORM.
type PlatformFleet struct {
	ID  string // the host's VOXFLEET_FLEET_ID; tokens sent to it are scoped to it
	URL string // base URL, without a trailing slash
}

// objectIDRE matches the ids the Backend gives registered fleets; a platform
// fleet's id must not look like one.
var objectIDRE = regexp.MustCompile(`^[0-9a-fA-F]{24}$`)

// fleets reads the fleet registry's settings into c.
func (p *parser) fleets(c *Config) {
	c.Fleets.MaxPerOrg = p.integer("FLEET_MAX_PER_ORG", 10, 1, 10000)
	for _, s := range splitList(p.str("FLEET_ALLOWED_NETS", "")) {
		if pr, err := netip.ParsePrefix(s); err == nil {
			c.Fleets.AllowedNets = append(c.Fleets.AllowedNets, pr.Masked())
		} else if a, err := netip.ParseAddr(s); err == nil {
			c.Fleets.AllowedNets = append(c.Fleets.AllowedNets, netip.PrefixFrom(a, a.BitLen()))
		} else {
			p.bad("FLEET_ALLOWED_NETS", "%q is neither a CIDR nor an IP address", s)
		}
	}
	seen := map[string]bool{}
	for _, s := range splitList(p.str("FLEET_PLATFORM", "")) {
		id, raw, ok := strings.Cut(s, "=")
		id = strings.TrimSpace(id)
		u, err := url.Parse(strings.TrimSpace(raw))
		switch {
		case !ok:
			p.bad("FLEET_PLATFORM", "%q is not id=url", s)
		case svcauth.ValidateFleetID(id) != nil || objectIDRE.MatchString(id):
			p.bad("FLEET_PLATFORM", "id %q: must be 1 to 64 letters, digits and _.-, not 24 hex digits (the form of registered fleets' ids)", id)
		case seen[id]:
			p.bad("FLEET_PLATFORM", "id %q given twice", id)
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
			p.bad("FLEET_PLATFORM", "%s: url must be http(s) without credentials, query or fragment", id)
		default:
			seen[id] = true
			c.Fleets.Platform = append(c.Fleets.Platform, PlatformFleet{ID: id, URL: strings.TrimRight(u.String(), "/")})
		}
	}
}
