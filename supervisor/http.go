package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/voxplatform/vox/control"
	"github.com/voxplatform/vox/fleetapi"
)

// httpHandler serves /health/fleet and /metrics on --listen.
func (s *Supervisor) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+fleetapi.PathFleetHealth, func(w http.ResponseWriter, r *http.Request) {
		f, err := s.liveFleet(r.Context())
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		code := http.StatusOK
		if f.Status == fleetapi.FleetDown {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, f)
	})
	mux.Handle("GET "+fleetapi.PathMetrics, promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not found: try /health/fleet or /metrics")
	})
	return mux
}

// controlHandler serves the CLI on control.sock.
func (s *Supervisor) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		f, err := s.liveFleet(r.Context())
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, f)
	})
	mux.HandleFunc("POST /v1/scale", func(w http.ResponseWriter, r *http.Request) {
		var req control.ScaleRequest
		if !decode(w, r, &req) {
			return
		}
		resp, err := s.Scale(r.Context(), *req.Workers)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, resp)
	})
	mux.HandleFunc("POST /v1/drain", func(w http.ResponseWriter, r *http.Request) {
		var req control.DrainRequest
		if !decode(w, r, &req) {
			return
		}
		if err := s.Drain(r.Context(), req.All()...); err != nil {
			writeErr(w, err)
			return
		}
		if req.Index != 0 {
			writeJSON(w, http.StatusOK, map[string]any{"drained": req.Index})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"drained": req.Indices})
	})
	mux.HandleFunc("POST /v1/restart", func(w http.ResponseWriter, r *http.Request) {
		var req control.RestartRequest
		if !decode(w, r, &req) {
			return
		}
		progress, err := s.Restart(r.Context(), req)
		if err != nil {
			writeErr(w, err)
			return
		}
		stream(w, progress)
	})
	mux.HandleFunc("POST /v1/upgrade", func(w http.ResponseWriter, r *http.Request) {
		if !decode(w, r, &control.UpgradeRequest{}) {
			return
		}
		progress, err := s.Upgrade(r.Context())
		if err != nil {
			writeErr(w, err)
			return
		}
		stream(w, progress)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no control operation %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// stream writes progress lines as they come, flushing each.
func stream(w http.ResponseWriter, progress <-chan control.Progress) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	for p := range progress {
		if enc.Encode(p) != nil {
			return
		}
		if fl != nil {
			fl.Flush()
		}
	}
}

// requestError is a control request the daemon refuses; Status is the HTTP status.
type requestError struct {
	Status int
	Msg    string
}

func (e *requestError) Error() string { return e.Msg }

func badRequest(format string, a ...any) error {
	return &requestError{Status: http.StatusBadRequest, Msg: fmt.Sprintf(format, a...)}
}

func writeErr(w http.ResponseWriter, err error) {
	var re *requestError
	if errors.As(err, &re) {
		writeError(w, re.Status, re.Msg)
		return
	}
	writeError(w, http.StatusInternalServerError, err.Error())
}

// decode reads a control request strictly (see control.Decode) and answers
// 400, or 413 for an oversize body, when it is refused.
func decode(w http.ResponseWriter, r *http.Request, v control.Request) bool {
	err := control.Decode(r.Body, v)
	if err == nil {
		return true
	}
	code := http.StatusBadRequest
	var de *control.DecodeError
	if errors.As(err, &de) && de.TooLarge {
		code = http.StatusRequestEntityTooLarge
	}
	writeError(w, code, err.Error())
	return false
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, fleetapi.ErrorBody{Error: msg})
}
