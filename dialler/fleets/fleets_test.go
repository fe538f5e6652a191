package fleets

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/voxplatform/vox/dialler"
	"github.com/voxplatform/vox/fleetapi"
	"github.com/voxplatform/vox/runtimeapi"
	"github.com/voxplatform/vox/runtimeclient"
	"github.com/voxplatform/vox/svcauth"
)

const secret = "fleets-test-service-secret-0123456789"

// host is a fleet host answering /attach with code, checking the token is
// scoped to it.
func host(t *testing.T, id string, code int, got *atomic.Int32) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := svcauth.Verify([]byte(secret), svcauth.FleetAudience(id), svcauth.FromHeader(r.Header.Get("Authorization"))); err != nil {
			t.Errorf("host %s: token not scoped to it: %v", id, err)
		}
		var req fleetapi.AttachRequest
		if r.URL.Path != fleetapi.PathAttach || json.NewDecoder(r.Body).Decode(&req) != nil || req.Validate() != nil {
			t.Errorf("host %s: bad request %s", id, r.URL.Path)
		}
		got.Add(1)
		w.WriteHeader(code)
		if code >= 300 {
			json.NewEncoder(w).Encode(fleetapi.ErrorBody{Error: "busy"})
			return
		}
		json.NewEncoder(w).Encode(fleetapi.CallResponse{CallID: req.CallID})
	}))
	t.Cleanup(s.Close)
	return s
}

// backend selects the hosts in turn, then answers 503 when none is left.
func backend(t *testing.T, hosts []string, ids []string) *httptest.Server {
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case runtimeapi.PathFleetSelect:
			i := int(n.Add(1)) - 1
			if i >= len(hosts) {
				w.WriteHeader(http.StatusServiceUnavailable)
				json.NewEncoder(w).Encode(map[string]string{"error": "no fleet has a free slot"})
				return
			}
			json.NewEncoder(w).Encode(runtimeapi.FleetChoice{FleetID: ids[i], URL: hosts[i], Free: 1})
		case runtimeapi.PathFleetCapacity:
			json.NewEncoder(w).Encode(runtimeapi.FleetCapacity{Free: 3, Busy: 5, Fleets: 2, Healthy: 2})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func TestAttach(t *testing.T) {
	d := dialler.Dial{CallID: "dial-x-1", Room: "vox-dial-x-1", Identity: "callee-x-1", OrgID: "6b10e7a321106361a4b75a18", To: "+15550001111"}
	for _, tc := range []struct {
		name     string
		codes    []int
		want     int // index of the host that takes the call, -1 none
		noWorker bool
	}{
		{"first host takes it", []int{202}, 0, false},
		{"a full host: the next one", []int{429, 202}, 1, false},
		{"every host full: abandoned", []int{429, 429, 429}, -1, true},
		{"no fleet with a free slot: abandoned", nil, -1, true},
		{"a host refuses otherwise: not retried", []int{400, 202}, -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var urls, ids []string
			counts := make([]*atomic.Int32, len(tc.codes))
			for i, code := range tc.codes {
				counts[i] = &atomic.Int32{}
				id := "fleet-" + string(rune('a'+i))
				urls, ids = append(urls, host(t, id, code, counts[i]).URL), append(ids, id)
			}
			rt, err := runtimeclient.New(runtimeclient.Config{BaseURL: backend(t, urls, ids).URL, Secret: []byte(secret), Attempts: 1})
			if err != nil {
				t.Fatal(err)
			}
			f := New(rt, []byte(secret))
			got, err := f.Attach(context.Background(), d)
			switch {
			case tc.want >= 0 && (err != nil || got != urls[tc.want]):
				t.Fatalf("Attach = %q, %v; want host %d", got, err, tc.want)
			case tc.want < 0 && err == nil:
				t.Fatalf("Attach = %q, want an error", got)
			case tc.noWorker != errors.Is(err, dialler.ErrNoWorker):
				t.Fatalf("Attach error %v: ErrNoWorker %v, want %v", err, errors.Is(err, dialler.ErrNoWorker), tc.noWorker)
			}
			if tc.name == "a host refuses otherwise: not retried" && counts[1].Load() != 0 {
				t.Fatal("a refused attach was offered to the next host")
			}
		})
	}
	rt, _ := runtimeclient.New(runtimeclient.Config{BaseURL: backend(t, nil, nil).URL, Secret: []byte(secret)})
	p, err := New(rt, []byte(secret)).Pool(context.Background(), d.OrgID)
	if err != nil || p.Free != 3 || p.Busy != 5 {
		t.Fatalf("Pool = %+v, %v", p, err)
	}
}
