package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"

	"github.com/voxplatform/vox/svcauth"
)

const (
	lkKey    = "APItestwidget"
	lkSecret = "livekit-test-secret-0123456789abcdef"
)

// widgetFleet stands in for a fleet host's nginx: /health/fleet as voxfleet
// answers it and POST /livekit/widget as a worker does.
type widgetFleet struct {
	srv *httptest.Server
	mu  sync.Mutex
	id  string              // fleet id the tokens must be scoped to; guarded by mu
	got []map[string]string // widget requests; guarded by mu
	ans int                 // status of /livekit/widget; guarded by mu
}

func newWidgetFleet(t *testing.T) *widgetFleet {
	f := &widgetFleet{ans: http.StatusAccepted}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/health/fleet":
			fmt.Fprint(w, `{"status":"ok","desired":2,"ready":2,"busy":0,"free":2,"draining":0,"failed":0,"version":"test","workers":[]}`)
		case "/livekit/widget":
			f.mu.Lock()
			defer f.mu.Unlock()
			if _, err := svcauth.Verify([]byte(serviceSecret), svcauth.FleetAudience(f.id), svcauth.FromHeader(r.Header.Get("Authorization"))); err != nil {
				w.WriteHeader(401)
				fmt.Fprint(w, `{"error":"unauthorized"}`)
				return
			}
			var body map[string]string
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
				w.WriteHeader(400)
				return
			}
			f.got = append(f.got, body)
			w.WriteHeader(f.ans)
			if f.ans == 429 {
				fmt.Fprint(w, `{"error":"busy"}`)
			} else {
				fmt.Fprintf(w, `{"call_id":%q,"status":"accepted"}`, body["call_id"])
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func TestWidgetCall(t *testing.T) {
	m, r := sharedServers(t)

	// Without LiveKit settings the route says what is missing.
	off := newHarness(t)
	tok0, _ := off.org("Widget Off Org")
	a0 := off.must(201, "POST", "/api/v1/agents", tok0, agentBody("W0"))["id"].(string)
	if res := off.req("POST", "/api/v1/agents/"+a0+"/widget", tok0, nil); res.Status != 503 || !strings.Contains(res.ErrorMsg(t), "LIVEKIT_URL") {
		t.Fatalf("without LiveKit: %d %s", res.Status, res.Body)
	}

	cfg := testConfig(t, m, r)
	cfg.LiveKit.URL, cfg.LiveKit.APIKey, cfg.LiveKit.APISecret, cfg.LiveKit.TokenTTL = "ws://127.0.0.1:7880", lkKey, lkSecret, 5*time.Minute
	h := start(t, cfg, true)
	tok, orgID := h.org("Widget Org")
	other, _ := h.org("Widget Other Org")
	agent := h.must(201, "POST", "/api/v1/agents", tok, agentBody("W"))["id"].(string)
	path := "/api/v1/agents/" + agent + "/widget"

	if res := h.req("POST", path, tok, nil); res.Status != 503 || res.ErrorMsg(t) != "no fleet has a free slot" {
		t.Fatalf("no fleet: %d %s", res.Status, res.Body)
	}
	f := newWidgetFleet(t)
	fid := h.must(201, "POST", "/api/v1/fleets", tok, map[string]any{"name": "w", "url": f.srv.URL})["id"].(string)
	f.mu.Lock()
	f.id = fid
	f.mu.Unlock()
	eventually(t, 5*time.Second, func() error {
		if res := h.req("GET", "/runtime/fleets/select?org_id="+orgID, h.service(), nil); res.Status != 200 {
			return fmt.Errorf("fleet not selectable: %d", res.Status)
		}
		return nil
	})

	s := h.must(201, "POST", path, tok, nil)
	callID, room, identity := s["call_id"].(string), s["room"].(string), s["identity"].(string)
	if s["url"] != "ws://127.0.0.1:7880" || callID == "" || room == "" || identity == "" {
		t.Fatalf("session = %v", s)
	}
	// The token is LiveKit's: signed with the key and secret, for this room
	// and identity only.
	at, err := lkauth.ParseAPIToken(s["token"].(string))
	if err != nil || at.APIKey() != lkKey {
		t.Fatalf("token: %v", err)
	}
	_, grants, err := at.Verify(lkSecret)
	if err != nil || grants.Identity != identity || grants.Video == nil || !grants.Video.RoomJoin ||
		grants.Video.Room != room || !grants.Video.GetCanPublish() || grants.Video.RoomAdmin || grants.Video.RoomCreate {
		t.Fatalf("grants = %+v %+v, %v", grants, grants.Video, err)
	}
	if _, _, err := at.Verify("another-secret-0123456789abcdefghijkl"); err == nil {
		t.Fatal("token verifies with another secret")
	}
	f.mu.Lock()
	if len(f.got) != 1 || f.got[0]["call_id"] != callID || f.got[0]["room"] != room ||
		f.got[0]["identity"] != identity || f.got[0]["agent_id"] != agent {
		t.Fatalf("fleet got %v", f.got)
	}
	f.mu.Unlock()
	c := h.must(200, "GET", "/api/v1/calls/"+callID, tok, nil)
	if c["status"] != "queued" || c["carrier"] != "widget" || c["fleet_url"] != f.srv.URL || c["agent_id"] != agent {
		t.Fatalf("call record = %v", c)
	}

	// A fleet whose workers are all busy: 503, and the record says so.
	// A fleet whose workers are all busy: 503, and the record says so.
	// (Selections between two polls use up the polled free slots, so the
	// first attempts may not reach the fleet at all.)
	f.mu.Lock()
	f.ans = 429
	asked := len(f.got)
	f.mu.Unlock()
	eventually(t, 5*time.Second, func() error {
		res := h.req("POST", path, tok, nil)
		if res.Status != 503 || res.ErrorMsg(t) != "no fleet has a free slot" {
			t.Fatalf("busy fleet: %d %s", res.Status, res.Body)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.got) == asked {
			return fmt.Errorf("the fleet was not asked")
		}
		return nil
	})
	f.mu.Lock()
	busyID := f.got[len(f.got)-1]["call_id"]
	f.mu.Unlock()
	if c := h.must(200, "GET", "/api/v1/calls/"+busyID, tok, nil); c["status"] != "failed" || c["error"] == nil {
		t.Fatalf("refused widget call = %v", c)
	}

	// Another organisation's agent does not exist for this caller; people
	// without a login get nothing.
	if res := h.req("POST", path, other, nil); res.Status != 404 {
		t.Fatalf("other org: %d", res.Status)
	}
	if res := h.req("POST", path, "", nil); res.Status != 401 {
		t.Fatalf("no login: %d", res.Status)
	}
	if res := h.req("POST", "/api/v1/agents/nope/widget", tok, nil); res.Status != 404 && res.Status != 400 {
		t.Fatalf("bad id: %d", res.Status)
	}
}
