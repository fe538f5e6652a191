package dialler

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the Dialler's Prometheus series, all named vox_dialler_*.
type metrics struct {
	reg       *prometheus.Registry
	dials     *prometheus.CounterVec   // campaign
	results   *prometheus.CounterVec   // campaign, result
	answers   *prometheus.CounterVec   // campaign
	abandons  *prometheus.CounterVec   // campaign
	ratio     *prometheus.GaugeVec     // campaign
	mode      *prometheus.GaugeVec     // campaign, mode
	ring      *prometheus.HistogramVec // campaign
	ringing   *prometheus.GaugeVec     // campaign
	leader    prometheus.Gauge
	epoch     prometheus.Gauge
	ticks     *prometheus.CounterVec // role
	tickSecs  prometheus.Histogram
	recovered *prometheus.CounterVec // action
	refused   prometheus.Counter
	// numberBusy counts leases given back because the number had a call
	// in flight in the organisation.
	numberBusy prometheus.Counter
	hungUp     *prometheus.CounterVec // campaign
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		dials: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vox_dialler_dials_total",
			Help: "Calls placed, per campaign."}, []string{"campaign"}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vox_dialler_dial_results_total",
			Help: "Placed calls by how they went: answered, no_answer, busy, failed."}, []string{"campaign", "result"}),
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vox_dialler_answers_total",
			Help: "Answered calls handed to a fleet worker, per campaign."}, []string{"campaign"}),
		abandons: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vox_dialler_abandons_total",
			Help: "Answered calls abandoned because no worker was free, per campaign."}, []string{"campaign"}),
		ratio: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vox_dialler_pacing_ratio",
			Help: "Calls ringing per free worker of the campaign's share after the last tick."}, []string{"campaign"}),
		mode: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vox_dialler_pacing_mode",
			Help: "1 for the pacing mode of the campaign's last tick (predictive, guarded, one_per_free, learning)."}, []string{"campaign", "mode"}),
		ring: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vox_dialler_ring_seconds",
			Help:    "Time from placing a call to its answer or end, per campaign.",
			Buckets: []float64{1, 2, 5, 10, 15, 20, 25, 30, 45, 60}}, []string{"campaign"}),
		ringing: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vox_dialler_ringing_calls",
			Help: "Calls ringing now, per campaign."}, []string{"campaign"}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vox_dialler_leader",
			Help: "1 while this process is the leader that dials, 0 on standby."}),
		epoch: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vox_dialler_leader_epoch",
			Help: "The leader epoch (fencing token) last seen."}),
		ticks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vox_dialler_ticks_total",
			Help: "Loop ticks by role."}, []string{"role"}),
		tickSecs: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vox_dialler_tick_seconds",
			Help: "Time a leader tick takes.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 10)}),
		recovered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vox_dialler_leases_recovered_total",
			Help: "Expired leases recovered, by what was found: answered, ended, live, dead."}, []string{"action"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "vox_dialler_lease_writes_refused_total",
			Help: "Lease writes refused because a newer leader owns the contact."}),
		hungUp: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vox_dialler_hung_up_total",
			Help: "Dials hung up while ringing because the pacer expected no free worker for their answer, per campaign."}, []string{"campaign"}),
		numberBusy: prometheus.NewCounter(prometheus.CounterOpts{Name: "vox_dialler_number_busy_total",
			Help: "Leases given back without an attempt because the number had a call in flight in the organisation."}),
	}
	m.reg.MustRegister(m.dials, m.results, m.answers, m.abandons, m.ratio, m.mode, m.ring, m.ringing,
		m.leader, m.epoch, m.ticks, m.tickSecs, m.recovered, m.refused, m.numberBusy, m.hungUp,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
