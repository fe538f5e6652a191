package api_test

import (
	"fmt"
	"testing"
	"time"
)

// TestFleetCapacity: the capacity the Dialler paces with sums the healthy
// fleets of the organisation, never another organisation's.
func TestFleetCapacity(t *testing.T) {
	m, r := sharedServers(t)
	h := start(t, testConfig(t, m, r), true)
	tok, orgID := h.org("Capacity Org")
	otherTok, _ := h.org("Capacity Other Org")
	svc := h.service()
	f1, f2, f3 := newFakeFleet(t, 1), newFakeFleet(t, 3), newFakeFleet(t, 2)
	h.must(201, "POST", "/api/v1/fleets", tok, map[string]any{"name": "one", "url": f1.srv.URL})
	h.must(201, "POST", "/api/v1/fleets", tok, map[string]any{"name": "two", "url": f2.srv.URL})
	h.must(201, "POST", "/api/v1/fleets", otherTok, map[string]any{"name": "other", "url": f3.srv.URL})
	capacity := func() map[string]any {
		r := h.req("GET", "/runtime/fleets/capacity?org_id="+orgID, svc, nil)
		if r.Status != 200 {
			t.Fatalf("capacity: %d %s", r.Status, r.Body)
		}
		return r.JSON(t)
	}
	eventually(t, 5*time.Second, func() error {
		if c := capacity(); c["free"] != 4.0 || c["busy"] != 4.0 || c["fleets"] != 2.0 || c["healthy"] != 2.0 {
			return fmt.Errorf("capacity %v, want free 4, busy 4 of 2 healthy fleets", c)
		}
		return nil
	})
	f2.set(503, 0)
	eventually(t, 5*time.Second, func() error {
		if c := capacity(); c["free"] != 1.0 || c["healthy"] != 1.0 {
			return fmt.Errorf("capacity %v, want only the healthy fleet's free 1", c)
		}
		return nil
	})
	for _, tc := range []struct {
		path   string
		token  string
		status int
	}{
		{"/runtime/fleets/capacity", svc, 400},
		{"/runtime/fleets/capacity?org_id=nope", svc, 400},
		{"/runtime/fleets/capacity?org_id=" + orgID, "", 401},
		{"/runtime/fleets/capacity?org_id=" + orgID, tok, 401},
	} {
		if r := h.req("GET", tc.path, tc.token, nil); r.Status != tc.status {
			t.Errorf("GET %s: %d %s, want %d", tc.path, r.Status, r.Body, tc.status)
		}
	}
}
