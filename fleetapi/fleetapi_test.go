package fleetapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/voxplatform/vox/svcauth"
)

const secret = "a-service-secret-long-enough"

// worker answers like a callslot worker: /health always, /attach 202 once
// then 429, with a service token for fleet "f1".
func worker(t *testing.T) http.Handler {
	busy := false
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathHealth, func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(Health{State: WorkerIdle, PID: 7, Index: 1, Version: "v"})
	})
	mux.HandleFunc("POST "+PathAttach, func(w http.ResponseWriter, r *http.Request) {
		if _, err := svcauth.Verify([]byte(secret), svcauth.FleetAudience("f1"), svcauth.FromHeader(r.Header.Get("Authorization"))); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(ErrorBody{Error: "unauthorized"})
			return
		}
		b, _ := io.ReadAll(r.Body)
		var req AttachRequest
		if err := Decode(b, &req); err != nil {
			var e *Error
			errors.As(err, &e)
			w.WriteHeader(e.Status)
			_ = json.NewEncoder(w).Encode(ErrorBody{Error: e.Message})
			return
		}
		if busy {
			w.WriteHeader(http.StatusTooManyRequests)
			_ = json.NewEncoder(w).Encode(ErrorBody{Error: "busy"})
			return
		}
		busy = true
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(CallResponse{CallID: req.CallID, Status: CallAccepted})
	})
	mux.HandleFunc("GET "+PathFleetHealth, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(Fleet{Status: FleetDown, Desired: 2})
	})
	return mux
}

func TestClient(t *testing.T) {
	serveUnix := func(t *testing.T) string {
		sock := filepath.Join(t.TempDir(), "worker-1.sock")
		ln, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: worker(t)}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		return sock
	}
	for _, kind := range []string{"path", "unix:", "http"} {
		t.Run(kind, func(t *testing.T) {
			var target string
			switch kind {
			case "path":
				target = serveUnix(t)
			case "unix:":
				target = "unix:" + serveUnix(t)
			default:
				srv := httptest.NewServer(worker(t))
				t.Cleanup(srv.Close)
				target = srv.URL
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := New(target, WithFleetToken([]byte(secret), "f1", "test"))
			if err != nil {
				t.Fatal(err)
			}
			h, err := c.Health(ctx)
			if err != nil || h.State != WorkerIdle || h.PID != 7 {
				t.Fatalf("Health = %+v, %v", h, err)
			}
			if _, err := c.Attach(ctx, AttachRequest{CallID: "c1"}); StatusOf(err) != http.StatusUnprocessableEntity ||
				!strings.Contains(err.Error(), "room") {
				t.Fatalf("Attach without room: %v; want 422 naming room", err)
			}
			r, err := c.Attach(ctx, AttachRequest{CallID: "c1", Room: "r1"})
			if err != nil || r.Status != CallAccepted || r.CallID != "c1" {
				t.Fatalf("Attach = %+v, %v", r, err)
			}
			_, err = c.Attach(ctx, AttachRequest{CallID: "c2", Room: "r2"})
			var e *Error
			if !IsBusy(err) || !errors.As(err, &e) || e.Message != "busy" {
				t.Fatalf("second Attach: %v; want 429 busy", err)
			}
			f, err := c.FleetHealth(ctx)
			if StatusOf(err) != http.StatusServiceUnavailable || f.Status != FleetDown || f.Desired != 2 {
				t.Fatalf("FleetHealth = %+v, %v; want the 503 body", f, err)
			}
			noTok, _ := New(target)
			if _, err := noTok.Attach(ctx, AttachRequest{CallID: "c3", Room: "r"}); StatusOf(err) != http.StatusUnauthorized {
				t.Fatalf("Attach without token: %v; want 401", err)
			}
		})
	}
	t.Run("bad target", func(t *testing.T) {
		if _, err := New("worker.sock"); err == nil {
			t.Fatal("relative path accepted")
		}
	})
	t.Run("no server", func(t *testing.T) {
		_, err := Socket(filepath.Join(t.TempDir(), "none.sock")).Health(context.Background())
		if err == nil || strings.Contains(err.Error(), socketSuffix) || StatusOf(err) != 0 {
			t.Fatalf("Health of a missing socket: %v", err)
		}
	})
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		v      Validator
		status int
	}{
		{"attach ok", `{"call_id":"c1","room":"r1","to":"+441234567890"}`, &AttachRequest{}, 0},
		{"empty", ``, &AttachRequest{}, 400},
		{"malformed", `{"call_id":`, &AttachRequest{}, 400},
		{"trailing", `{"call_id":"c","room":"r"} {}`, &AttachRequest{}, 400},
		{"wrong type", `{"call_id":5,"room":"r"}`, &AttachRequest{}, 422},
		{"bad id", `{"call_id":"a b","room":"r"}`, &AttachRequest{}, 422},
		{"bad to", `{"call_id":"c","room":"r","to":"0123"}`, &AttachRequest{}, 422},
		{"dialout ok", `{"call_id":"c","to":"+15551234567","ring_timeout_s":30}`, &DialoutRequest{}, 0},
		{"dialout no to", `{"call_id":"c"}`, &DialoutRequest{}, 422},
		{"dialout ring too long", `{"call_id":"c","to":"+15551234567","ring_timeout_s":3600}`, &DialoutRequest{}, 422},
		{"widget ok", `{"call_id":"c","room":"w"}`, &WidgetRequest{}, 0},
		{"widget no room", `{"call_id":"c"}`, &WidgetRequest{}, 422},
		{"dispatch ok", `{"event":"participant_joined","room":{"name":"r"},"participant":{"identity":"sip_1","kind":"SIP"}}`, &DispatchRequest{}, 0},
		{"dispatch no event", `{"room":{"name":"r"}}`, &DispatchRequest{}, 422},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Decode([]byte(tt.body), tt.v)
			if got := StatusOf(err); got != tt.status {
				t.Fatalf("Decode: %v (status %d); want status %d", err, got, tt.status)
			}
		})
	}
}
