package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/internal/testnginx"
	"github.com/voxplatform/vox/svcauth"
	"github.com/voxplatform/vox/twilio"
)

// openStream opens GET path (no Authorization header) and returns the
// stream, or the status when it is not one.
func openStream(t *testing.T, h *harness, path string) (*sse, resp) {
	t.Helper()
	res, err := http.Get(h.base + path)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		defer res.Body.Close()
		var b strings.Builder
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			b.WriteString(sc.Text())
		}
		return nil, resp{Status: res.StatusCode, Body: []byte(b.String())}
	}
	s := &sse{events: make(chan string, 256), resp: res}
	t.Cleanup(func() { res.Body.Close() })
	go func() {
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var cur strings.Builder
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				if cur.Len() > 0 {
					s.events <- cur.String()
				}
				cur.Reset()
				continue
			}
			if !strings.HasPrefix(line, ":") {
				cur.WriteString(line + "\n")
			}
		}
		close(s.events)
	}()
	return s, resp{Status: 200}
}

// ticket asks for a stream ticket with token.
func (h *harness) ticket(token string) string {
	h.t.Helper()
	m := h.must(200, "POST", "/api/v1/events/ticket", token, nil)
	if m["expires_in"].(float64) <= 0 || m["expires_in"].(float64) > 60 {
		h.t.Fatalf("ticket expires_in = %v", m["expires_in"])
	}
	return m["ticket"].(string)
}

// TestStreamTicket: a browser opens the event stream with a ticket instead
// of a header: the ticket opens one stream of its organisation, once, for a
// short time, only the stream, and not after its credentials are revoked.
func TestStreamTicket(t *testing.T) {
	m, r := sharedServers(t)
	h := start(t, testConfig(t, m, r), false)
	ownerA, _ := h.org("Ticket Org A")
	ownerB, _ := h.org("Ticket Org B")
	agentA := h.must(201, "POST", "/api/v1/agents", ownerA, agentBody("A"))["id"].(string)
	agentB := h.must(201, "POST", "/api/v1/agents", ownerB, agentBody("B"))["id"].(string)

	if _, r := openStream(t, h, "/api/v1/events"); r.Status != 401 {
		t.Fatalf("stream without credentials: %d", r.Status)
	}
	if _, r := openStream(t, h, "/api/v1/events?ticket=not-a-ticket"); r.Status != 401 || r.ErrorMsg(t) != "unauthorized" {
		t.Fatalf("stream with a made-up ticket: %d %s", r.Status, r.Body)
	}
	tk := h.ticket(ownerA)
	s, res := openStream(t, h, "/api/v1/events?ticket="+tk)
	if s == nil {
		t.Fatalf("stream with a ticket: %d %s", res.Status, res.Body)
	}
	// Bound to its organisation: B's call is not delivered, A's is.
	h.must(201, "PUT", "/runtime/calls/TKB1", h.service(), map[string]any{"agent_id": agentB, "status": "ringing"})
	h.must(201, "PUT", "/runtime/calls/TKA1", h.service(), map[string]any{"agent_id": agentA, "status": "ringing"})
	if e, ok := s.next(t, 10*time.Second); !ok || !strings.HasPrefix(e, "event: call\n") || !strings.Contains(e, `"TKA1"`) {
		t.Fatalf("first event on A's ticket stream: %q %v", e, ok)
	}
	// Single use.
	if _, r := openStream(t, h, "/api/v1/events?ticket="+tk); r.Status != 401 {
		t.Fatalf("ticket used twice: %d", r.Status)
	}
	// Only the stream takes a ticket.
	tk2 := h.ticket(ownerA)
	if r := h.req("GET", "/api/v1/agents?ticket="+tk2, "", nil); r.Status != 401 {
		t.Fatalf("ticket opened another route: %d", r.Status)
	}
	// Short-lived: Redis drops it within StreamTicketTTL.
	opt, _ := redis.ParseURL(r)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if ttl := rdb.TTL(context.Background(), "vox:events:ticket:"+tk2).Val(); ttl <= 0 || ttl > 30*time.Second {
		t.Fatalf("ticket TTL = %v, want (0, 30s]", ttl)
	}
	// A ticket of credentials revoked since does not open a stream.
	ann, _ := addUser(h, ownerA, "ann@ticket.test", "viewer")
	tk3 := h.ticket(ann)
	h.must(204, "POST", "/api/v1/auth/logout", ann, nil)
	if _, r := openStream(t, h, "/api/v1/events?ticket="+tk3); r.Status != 401 {
		t.Fatalf("ticket of a logged-out token: %d", r.Status)
	}
	// An API key gets tickets too.
	key := h.must(201, "POST", "/api/v1/api-keys", ownerA, map[string]any{"name": "wall screen"})["key"].(string)
	if s, r := openStream(t, h, "/api/v1/events?ticket="+h.ticket(key)); s == nil {
		t.Fatalf("API key's ticket: %d %s", r.Status, r.Body)
	}
}

// schemaProps returns the property names of the OpenAPI schema at path in
// doc's components.
func schemaProps(t *testing.T, doc map[string]any, path ...string) map[string]any {
	t.Helper()
	var v any = doc["components"].(map[string]any)["schemas"]
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("schema path %v: %q is not an object", path, p)
		}
		v = m[p]
	}
	props, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("schema path %v: no properties", path)
	}
	return props
}

// checkKeys fails when obj has a key the schema does not declare.
func checkKeys(t *testing.T, what string, obj map[string]any, props map[string]any) {
	t.Helper()
	for k := range obj {
		if _, ok := props[k]; !ok {
			t.Errorf("%s: key %q is not in the OpenAPI schema", what, k)
		}
	}
}

// TestFleetEventWorkerRows: the fleet event of a real voxfleet host carries
// its per-worker rows (index, state, call id, call age, restarts, version),
// a worker turns busy with its call's id while a call runs, and every key
// of the payload is declared in the OpenAPI document's FleetEvent schema.
func TestFleetEventWorkerRows(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "voxfleet")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/voxplatform/vox/cmd/voxfleet").CombinedOutput(); err != nil {
		t.Fatalf("build voxfleet: %v\n%s", err, out)
	}
	fl := startVoxfleet(t, bin, 2)
	m, r := sharedServers(t)
	h := start(t, testConfig(t, m, r), true)
	tok, _ := h.org("Fleet Rows Org")

	var doc map[string]any
	if err := json.Unmarshal(h.req("GET", "/openapi.json", "", nil).Body, &doc); err != nil {
		t.Fatal(err)
	}
	eventProps := schemaProps(t, doc, "FleetEvent", "properties")
	capProps := schemaProps(t, doc, "FleetEvent", "properties", "data", "properties")
	rowProps := schemaProps(t, doc, "FleetEvent", "properties", "data", "properties", "workers", "items", "properties")
	for _, want := range []string{"index", "state", "call_id", "call_s", "restarts", "version"} {
		if rowProps[want] == nil {
			t.Fatalf("FleetEvent worker rows lack %q: %v", want, rowProps)
		}
	}

	s, res := openStream(t, h, "/api/v1/events?ticket="+h.ticket(tok))
	if s == nil {
		t.Fatalf("stream: %d %s", res.Status, res.Body)
	}
	h.must(201, "POST", "/api/v1/fleets", tok, map[string]any{"name": "rows", "url": fl.url})

	type fleetEvent struct {
		Type string `json:"type"`
		Data struct {
			Workers []fleetapi.FleetWorker `json:"workers"`
		} `json:"data"`
	}
	// waitFleet reads fleet events until one satisfies ok.
	waitFleet := func(what string, ok func(ws []fleetapi.FleetWorker) bool) []fleetapi.FleetWorker {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			e, open := s.next(t, time.Until(deadline))
			if !open {
				break
			}
			if !strings.HasPrefix(e, "event: fleet\n") {
				continue
			}
			data := strings.TrimPrefix(e[strings.Index(e, "data: "):], "data: ")
			var raw map[string]any
			var fe fleetEvent
			if json.Unmarshal([]byte(data), &raw) != nil || json.Unmarshal([]byte(data), &fe) != nil {
				t.Fatalf("fleet event is not JSON: %s", data)
			}
			checkKeys(t, "fleet event", raw, eventProps)
			d := raw["data"].(map[string]any)
			checkKeys(t, "fleet event data", d, capProps)
			for _, w := range d["workers"].([]any) {
				checkKeys(t, "worker row", w.(map[string]any), rowProps)
			}
			if ok(fe.Data.Workers) {
				return fe.Data.Workers
			}
		}
		t.Fatalf("no fleet event with %s", what)
		return nil
	}
	ws := waitFleet("two ready workers", func(ws []fleetapi.FleetWorker) bool {
		return len(ws) == 2 && ws[0].State == fleetapi.SlotReady && ws[1].State == fleetapi.SlotReady
	})
	for i, w := range ws {
		if w.Index != i+1 || w.Version == "" || w.CallID != "" {
			t.Fatalf("worker row %d: %+v", i, w)
		}
	}

	// A call on worker 1: its row turns busy with the call's id.
	tokFleet, err := svcauth.Sign([]byte("voxfleet-selection-test-secret"), svcauth.FleetAudience("selection-test"), "test", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, _, err := twilio.Dial(ctx, twilio.ClientConfig{URL: "ws://worker/ws/twilio",
		SocketPath: filepath.Join(fl.dir, "worker-1.sock"), Token: tokFleet})
	if err != nil {
		t.Fatalf("dial worker 1: %v", err)
	}
	defer cl.Close()
	if err := cl.Start(); err != nil {
		t.Fatal(err)
	}
	waitFleet("worker 1 busy in the call", func(ws []fleetapi.FleetWorker) bool {
		for _, w := range ws {
			if w.Index == 1 && w.State == fleetapi.SlotBusy && w.CallID != "" {
				return true
			}
		}
		return false
	})
	_ = cl.Stop()
	waitFleet("worker 1 ready again", func(ws []fleetapi.FleetWorker) bool {
		return len(ws) == 2 && ws[0].State == fleetapi.SlotReady && ws[0].CallID == ""
	})
}

// TestNginxLogsNoTicket: the shipped site logs event-stream requests
// without their query, so a stream ticket never reaches the access log.
func TestNginxLogsNoTicket(t *testing.T) {
	h := newHarness(t)
	n := testnginx.Start(t, testnginx.Options{Workers: 1, Site: siteForTest(t, strings.TrimPrefix(h.base, "http://"), t.TempDir())})
	via := &harness{t: t, srv: h.srv, cfg: h.cfg, base: "http://" + n.Addr}
	tok, _ := via.org("Log Org")
	tk := via.ticket(tok)
	s, r := openStream(t, via, "/api/v1/events?ticket="+tk)
	if s == nil {
		t.Fatalf("stream via nginx: %d %s", r.Status, r.Body)
	}
	s.resp.Body.Close()
	log := filepath.Join(n.Prefix, "voxbridge.access.log")
	eventually(t, 10*time.Second, func() error {
		b, _ := os.ReadFile(log)
		if !strings.Contains(string(b), "GET /api/v1/events ") {
			return fmt.Errorf("no event stream request in the access log yet:\n%s", b)
		}
		return nil
	})
	if b, _ := os.ReadFile(log); strings.Contains(string(b), tk) {
		t.Fatalf("access log holds the stream ticket:\n%s", b)
	}
}
