package dialler

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Health is the body of GET /health.
type Health struct {
	Status           string  `json:"status"` // ok, or stalled when the loop has not ticked for three intervals
	Role             string  `json:"role"`   // leader or standby
	Epoch            int64   `json:"epoch"`
	Owner            string  `json:"owner"`  // this process
	Leader           string  `json:"leader"` // the leader as last read
	LastTickAgeS     float64 `json:"last_tick_age_s"`
	CampaignsRunning int     `json:"campaigns_running"`
	CallsInFlight    int     `json:"calls_in_flight"`
}

// Health reports the Dialler's state.
func (d *Dialler) Health() Health {
	st := d.el.Status()
	d.mu.Lock()
	last, running, inflight := d.lastTick, d.running, len(d.calls)
	d.mu.Unlock()
	age := -1.0
	if !last.IsZero() {
		age = d.now().Sub(last).Seconds()
	}
	h := Health{Status: "ok", Role: st.Role.String(), Epoch: st.Epoch, Owner: d.cfg.Owner, Leader: st.Owner,
		LastTickAgeS: age, CampaignsRunning: running, CallsInFlight: inflight}
	if _, ok := d.el.Leading(); !ok {
		h.Role = "standby"
	}
	if age < 0 || time.Duration(age*float64(time.Second)) > 3*d.cfg.Interval+5*time.Second {
		h.Status = "stalled"
	}
	return h
}

// Handler serves GET /health (200 while the loop ticks, 503 when it has
// stalled) and GET /metrics.
func (d *Dialler) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		h := d.Health()
		w.Header().Set("Content-Type", "application/json")
		if h.Status != "ok" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(h)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":"not found"}` + "\n"))
	})
	return mux
}
