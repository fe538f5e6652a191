package api

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// dependencyCollector reports whether MongoDB and Redis answer, pinged at
// scrape time as GET /health does: voxbridge_dependency_up{dependency}.
type dependencyCollector struct {
	s    *Server
	desc *prometheus.Desc
}

func newDependencyCollector(s *Server) dependencyCollector {
	return dependencyCollector{s: s, desc: prometheus.NewDesc("voxbridge_dependency_up",
		"1 when the dependency (mongodb, redis) answered a ping at scrape time, else 0.", []string{"dependency"}, nil)}
}

func (d dependencyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- d.desc }

func (d dependencyCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	mc := make(chan error, 1)
	go func() { mc <- d.s.store.Ping(ctx) }()
	rerr := d.s.rdb.Ping(ctx).Err()
	merr := <-mc
	up := func(err error) float64 {
		if err != nil {
			return 0
		}
		return 1
	}
	ch <- prometheus.MustNewConstMetric(d.desc, prometheus.GaugeValue, up(merr), "mongodb")
	ch <- prometheus.MustNewConstMetric(d.desc, prometheus.GaugeValue, up(rerr), "redis")
}
