package upstream

import "github.com/prometheus/client_golang/prometheus"

// metrics are the Manager's Prometheus series.
type metrics struct {
	reloads         prometheus.Counter
	failures        *prometheus.CounterVec
	servers         prometheus.Gauge
	lastSuccess     prometheus.Gauge
	lastSuccessTime prometheus.Gauge
	duration        prometheus.Histogram
}

func newMetrics() *metrics {
	m := &metrics{
		reloads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "voxfleet_nginx_reloads_total",
			Help: "nginx reloads with a new upstream file (written, tested, reloaded); none when no reload command is configured.",
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voxfleet_nginx_reload_failures_total",
			Help: "Upstream applies that failed, by stage (validate, write, test, reload); the previous file is restored after a failed test, the tested file kept after a failed reload.",
		}, []string{"stage"}),
		servers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "voxfleet_upstream_servers",
			Help: "Worker sockets in the upstream file nginx last loaded.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "voxfleet_nginx_last_reload_success",
			Help: "Whether the last upstream apply succeeded (1) or failed (0).",
		}),
		lastSuccessTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "voxfleet_nginx_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful upstream apply.",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "voxfleet_nginx_reload_duration_seconds",
			Help:    "Time to write, test and reload one upstream file.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
	}
	for _, s := range []Stage{StageValidate, StageWrite, StageTest, StageReload} {
		m.failures.WithLabelValues(string(s))
	}
	return m
}

func (m *metrics) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.reloads, m.failures, m.servers, m.lastSuccess, m.lastSuccessTime, m.duration} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
