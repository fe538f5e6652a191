package fleetpoll

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// ErrAddressRefused is wrapped by every refusal of an address an
// organisation's fleet may not reach.
var ErrAddressRefused = errors.New("address not allowed for a fleet")

// Messages an organisation is shown for its fleet; the detail is only logged.
const (
	msgRefused = "fleet address not allowed"
	msgFailed  = "fleet health check failed"
)

// internalNets are the special-purpose networks not covered by netip's
// IsPrivate, IsLoopback, IsLinkLocal…: shared address space (carrier NAT,
// some clouds' metadata services), IETF protocol assignments, benchmarking,
// reserved, and the IPv6 prefixes that embed an IPv4 address (NAT64, 6to4,
// Teredo), which could reach any of the above.
var internalNets = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15", "240.0.0.0/4",
		"64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32", "100::/64"} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// Internal reports whether ip is a loopback, private, link-local (cloud
// metadata at 169.254.169.254 included), multicast, unspecified or other
// special-purpose address: one that an organisation's fleet must not point
// the Backend at.
func Internal(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || !ip.IsGlobalUnicast() {
		return true
	}
	for _, p := range internalNets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// AddressPolicy decides which addresses an organisation's fleet may reach:
// every address but internal ones, and internal ones inside Allowed.
type AddressPolicy struct {
	Allowed []netip.Prefix // FLEET_ALLOWED_NETS
}

// Check returns an error wrapping ErrAddressRefused when ip may not be
// reached.
func (p AddressPolicy) Check(ip netip.Addr) error {
	ip = ip.Unmap()
	for _, a := range p.Allowed {
		if a.Contains(ip) {
			return nil
		}
	}
	if Internal(ip) {
		return fmt.Errorf("%w: %s", ErrAddressRefused, ip)
	}
	return nil
}

// CheckURL refuses a fleet URL whose host is a literal address the policy
// refuses. Host names are checked when the poller connects, after DNS.
func (p AddressPolicy) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("parse fleet url: %w", err)
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil {
		return p.Check(ip)
	}
	return nil
}

// control is a net.Dialer Control hook: it runs after DNS resolution, on
// the very address being connected to, so a name that resolves to a public
// address when registered and to an internal one later (DNS rebinding) is
// still refused.
func (p AddressPolicy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable %q", ErrAddressRefused, address)
	}
	return p.Check(ap.Addr())
}

// newClient is the HTTP client of the poller: no proxy, no redirects (a 3xx
// is a failed check), and, when policy is set, only addresses it allows.
func newClient(timeout time.Duration, policy *AddressPolicy) *http.Client {
	d := &net.Dialer{Timeout: timeout}
	if policy != nil {
		d.Control = policy.control
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         d.DialContext,
			TLSHandshakeTimeout: timeout,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     time.Minute,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// publicReason is what an organisation is told about a failed check of its
// fleet: whether the address was refused, nothing else.
func publicReason(err error) string {
	if errors.Is(err, ErrAddressRefused) {
		return msgRefused
	}
	return msgFailed
}
