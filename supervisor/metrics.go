package supervisor

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/voxplatform/vox/fleetapi"
)

const (
	stateStarting = fleetapi.SlotStarting
	stateReady    = fleetapi.SlotReady
	stateBusy     = fleetapi.SlotBusy
	stateDraining = fleetapi.SlotDraining
	stateBackoff  = fleetapi.SlotBackoff
	stateFailed   = fleetapi.SlotFailed
	stateHeld     = fleetapi.SlotHeld
	stateStopped  = fleetapi.SlotStopped
)

// Reasons a worker is recycled.
const (
	recycleCalls  = "calls"
	recycleMemory = "memory"
)

var allStates = []fleetapi.SlotState{stateStarting, stateReady, stateBusy, stateDraining, stateBackoff, stateFailed, stateHeld, stateStopped}

// metrics are the daemon's own series; the upstream manager registers the
// nginx ones.
type metrics struct {
	workers      *prometheus.GaugeVec
	desired      prometheus.Gauge
	restarts     prometheus.Counter
	deaths       *prometheus.CounterVec
	callsStarted prometheus.Counter
	callsEnded   *prometheus.CounterVec
	callSeconds  prometheus.Histogram
	probeSeconds prometheus.Histogram
	hung         prometheus.Counter
	stalled      prometheus.Gauge
	recycles     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, version string) *metrics {
	m := &metrics{
		workers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "voxfleet_workers", Help: "Workers by state.",
		}, []string{"state"}),
		desired: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "voxfleet_workers_desired", Help: "Desired worker count.",
		}),
		restarts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "voxfleet_worker_restarts_total", Help: "Unexpected worker deaths that led to a restart decision.",
		}),
		deaths: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voxfleet_worker_deaths_total",
			Help: "Unexpected worker deaths by cause (killed: SIGKILL from outside after serving; crashed: ended on its own after serving; start_failed: died before ready) and decision (restart now, backoff, failed: crash-looping, retried at the backoff cap).",
		}, []string{"cause", "decision"}),
		callsStarted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "voxfleet_calls_started_total", Help: "Calls admitted by workers.",
		}),
		callsEnded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voxfleet_calls_ended_total", Help: "Calls ended, by outcome (completed, failed, cut: the worker died in the call).",
		}, []string{"outcome"}),
		callSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "voxfleet_call_duration_seconds", Help: "Length of ended calls.",
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600},
		}),
		probeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "voxfleet_probe_duration_seconds", Help: "Latency of GET /health probes to workers.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14),
		}),
		hung: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "voxfleet_worker_hung_total", Help: "Workers replaced because they stopped answering /health.",
		}),
		recycles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voxfleet_worker_recycles_total", Help: "Idle workers replaced for hygiene, by reason (calls, memory).",
		}, []string{"reason"}),
		stalled: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "voxfleet_calls_stalled", Help: "Calls whose media stopped advancing.",
		}),
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "voxfleet_build_info", Help: "Build of the running daemon.", ConstLabels: prometheus.Labels{"version": version},
	})
	info.Set(1)
	reg.MustRegister(m.workers, m.desired, m.restarts, m.deaths, m.callsStarted, m.callsEnded, m.callSeconds,
		m.probeSeconds, m.hung, m.stalled, m.recycles, info)
	for _, o := range []string{"completed", "failed", "cut"} {
		m.callsEnded.WithLabelValues(o)
	}
	for _, r := range []string{recycleCalls, recycleMemory} {
		m.recycles.WithLabelValues(r)
	}
	return m
}
