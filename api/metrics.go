package api

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gofiber/fiber/v2/middleware/adaptor"
)

// metrics are voxbridge's Prometheus metrics.
type metrics struct {
	reg      *prometheus.Registry
	duration *prometheus.HistogramVec
	calls    *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "voxbridge_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route", "code"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "voxbridge_call_record_writes_total",
			Help: "Writes of call records through /runtime, by outcome (created, updated, stale).",
		}, []string{"outcome"}),
	}
	m.reg.MustRegister(m.duration, m.calls,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe times every request; errors are turned into responses here so
// that the status code is known.
func (s *Server) observe(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	if err != nil {
		err = s.errorHandler(c, err)
	}
	code := c.Response().StatusCode()
	s.metrics.duration.WithLabelValues(c.Method(), c.Route().Path, strconv.Itoa(code)).Observe(time.Since(start).Seconds())
	return err
}

func (m *metrics) handler() fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
}
