package api_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voxplatform/vox/api/config"
)

func platformFleetCfg(id, url string) config.PlatformFleet {
	return config.PlatformFleet{ID: id, URL: url}
}

func allowOnly(t *testing.T, cidrs ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, c := range cidrs {
		out = append(out, netip.MustParsePrefix(c))
	}
	return out
}

// probedFleet is a fleet host on a chosen loopback address that counts the
// requests reaching it.
type probedFleet struct {
	srv  *httptest.Server
	hits atomic.Int64
}

// newProbedFleet serves /health/fleet with free slots on addr ("127.0.0.1:0"
// …); handler, when set, answers instead.
func newProbedFleet(t *testing.T, addr string, free int, handler http.HandlerFunc) *probedFleet {
	t.Helper()
	f := &probedFleet{}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		if handler != nil {
			handler(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"ok","desired":%d,"ready":%d,"busy":0,"free":%d,"draining":0,"failed":0,"version":"test","workers":[]}`,
			free, free, free)
	}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	f.srv.Listener.Close()
	f.srv.Listener = ln
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

// selectFor asks for a fleet for orgID: the status and the fleet id chosen.
func (h *harness) selectFor(orgID, svc string) (int, string) {
	h.t.Helper()
	r := h.req("GET", "/runtime/fleets/select?org_id="+orgID, svc, nil)
	if r.Status != 200 {
		return r.Status, ""
	}
	return 200, r.JSON(h.t)["fleet_id"].(string)
}

// TestFleetSelectionScopedToOrganisation: organisation B registers a fleet
// that claims 9999 free slots. A call of organisation A goes to the
// platform's fleet or to A's own, never to B's — not even once the
// platform's fleet is full — and selection must name the organisation.
func TestFleetSelectionScopedToOrganisation(t *testing.T) {
	m, r := sharedServers(t)
	platform := newProbedFleet(t, "127.0.0.1:0", 2, nil)
	cfg := testConfig(t, m, r)
	cfg.Fleets.Platform = append(cfg.Fleets.Platform, platformFleetCfg("plat-1", platform.srv.URL))
	h := start(t, cfg, true)
	_, orgA := h.org("Victim Org")
	tokB, orgB := h.org("Greedy Org")
	svc := h.service()
	greedy := newProbedFleet(t, "127.0.0.1:0", 9999, nil)
	greedyID := h.must(201, "POST", "/api/v1/fleets", tokB, map[string]any{"name": "greedy", "url": greedy.srv.URL})["id"].(string)

	if r := h.req("GET", "/runtime/fleets/select", svc, nil); r.Status != 400 || !strings.Contains(r.ErrorMsg(t), "org_id") {
		t.Fatalf("select without org_id = %d %s, want 400 naming org_id", r.Status, r.Body)
	}
	// B's own calls go to B's fleet, once it has been polled.
	eventually(t, 5*time.Second, func() error {
		if code, id := h.selectFor(orgB, svc); id != greedyID {
			return fmt.Errorf("B's call went to %d %q, want its own fleet %s", code, id, greedyID)
		}
		return nil
	})
	// A's calls use up the platform fleet's two slots, then find none.
	for i := range 2 {
		if code, id := h.selectFor(orgA, svc); id != "plat-1" {
			t.Fatalf("A's call %d went to %d %q, want the platform fleet", i, code, id)
		}
	}
	if code, id := h.selectFor(orgA, svc); code != http.StatusServiceUnavailable {
		t.Fatalf("A's third call went to %d %q, want 503: B's fleet must never serve A", code, id)
	}
}

// TestFleetAddressPolicy: without FLEET_ALLOWED_NETS an organisation cannot
// point the poller at loopback, private, link-local or metadata addresses:
// literal ones are refused at registration, names that resolve to them are
// refused when the poller connects (so DNS rebinding fails too), and the
// organisation sees only a generic reason. FLEET_MAX_PER_ORG holds.
func TestFleetAddressPolicy(t *testing.T) {
	m, r := sharedServers(t)
	cfg := testConfig(t, m, r)
	cfg.Fleets.AllowedNets = nil
	cfg.Fleets.MaxPerOrg = 2
	h := start(t, cfg, true)
	tok, orgID := h.org("Probe Org")
	svc := h.service()
	inside := newProbedFleet(t, "127.0.0.1:0", 4, nil)
	port := inside.srv.Listener.Addr().(*net.TCPAddr).Port

	for _, u := range []string{
		inside.srv.URL,
		fmt.Sprintf("http://[::1]:%d", port),
		fmt.Sprintf("http://[::ffff:127.0.0.1]:%d", port),
		"http://169.254.169.254",
		"http://10.0.0.1:9000",
		"http://192.168.1.10",
		"http://100.100.100.200",
		"http://0.0.0.0:6379",
	} {
		r := h.req("POST", "/api/v1/fleets", tok, map[string]any{"name": "x", "url": u})
		if r.Status != 400 || !strings.Contains(r.ErrorMsg(t), "address not allowed") {
			t.Errorf("register %s = %d %s, want 400 address not allowed", u, r.Status, r.Body)
		}
	}
	// A name is resolved when the poller connects: localhost is refused
	// then, and the fleet host never hears from the poller.
	byName := fmt.Sprintf("http://localhost:%d", port)
	id := h.must(201, "POST", "/api/v1/fleets", tok, map[string]any{"name": "by-name", "url": byName})["id"].(string)
	eventually(t, 5*time.Second, func() error {
		f := h.must(200, "GET", "/api/v1/fleets/"+id, tok, nil)
		c, _ := f["capacity"].(map[string]any)
		if c == nil {
			return fmt.Errorf("not polled yet: %v", f)
		}
		if c["healthy"] != false || c["error"] != "fleet address not allowed" {
			t.Fatalf("capacity of a fleet at localhost = %v, want unhealthy with the generic reason", c)
		}
		return nil
	})
	if n := inside.hits.Load(); n != 0 {
		t.Fatalf("the loopback fleet host got %d requests from the poller, want none", n)
	}
	if code, _ := h.selectFor(orgID, svc); code != http.StatusServiceUnavailable {
		t.Fatalf("select = %d, want 503: a refused fleet is never selected", code)
	}
	// The limit: this organisation has one fleet and may register one more.
	h.must(201, "POST", "/api/v1/fleets", tok, map[string]any{"name": "second", "url": "https://fleet-2.example.com"})
	if r := h.req("POST", "/api/v1/fleets", tok, map[string]any{"name": "third", "url": "https://fleet-3.example.com"}); r.Status != 400 ||
		!strings.Contains(r.ErrorMsg(t), "at most 2") {
		t.Fatalf("third fleet = %d %s, want 400 at most 2", r.Status, r.Body)
	}
}

// TestFleetPollerNoRedirectsGenericErrors: with FLEET_ALLOWED_NETS naming
// one address, a fleet there that redirects to another loopback address is
// not followed, and a fleet that fails shows the organisation a generic
// reason, never the answer of whatever it pointed at.
func TestFleetPollerNoRedirectsGenericErrors(t *testing.T) {
	m, r := sharedServers(t)
	target := newProbedFleet(t, "127.0.0.2:0", 4, nil)
	redirector := newProbedFleet(t, "127.0.0.1:0", 0, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.srv.URL+"/health/fleet", http.StatusFound)
	})
	leaky := newProbedFleet(t, "127.0.0.1:0", 0, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "-ERR wrong number of arguments for 'get' command (internal detail)", http.StatusForbidden)
	})
	cfg := testConfig(t, m, r)
	cfg.Fleets.AllowedNets = allowOnly(t, "127.0.0.1/32")
	h := start(t, cfg, true)
	tok, _ := h.org("Redirect Org")

	if r := h.req("POST", "/api/v1/fleets", tok, map[string]any{"name": "x", "url": target.srv.URL}); r.Status != 400 {
		t.Fatalf("register %s outside the allowed nets = %d %s, want 400", target.srv.URL, r.Status, r.Body)
	}
	for _, f := range []*probedFleet{redirector, leaky} {
		id := h.must(201, "POST", "/api/v1/fleets", tok, map[string]any{"name": "f", "url": f.srv.URL})["id"].(string)
		eventually(t, 5*time.Second, func() error {
			fl := h.must(200, "GET", "/api/v1/fleets/"+id, tok, nil)
			c, _ := fl["capacity"].(map[string]any)
			if c == nil || f.hits.Load() == 0 {
				return fmt.Errorf("not polled yet: %v", fl)
			}
			if c["healthy"] != false || c["error"] != "fleet health check failed" {
				t.Fatalf("capacity of %s = %v, want unhealthy with only the generic reason", f.srv.URL, c)
			}
			return nil
		})
	}
	if n := target.hits.Load(); n != 0 {
		t.Fatalf("the redirect target got %d requests, want none: the poller follows no redirect", n)
	}
}
