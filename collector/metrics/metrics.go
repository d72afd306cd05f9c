// Package metrics is the collector's Prometheus instrumentation: one
// registry, names prefixed sonde_, base units, counters ending in _total.
package metrics

import (
	"errors"
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sondehq/sonde/collector/ingest"
	"github.com/sondehq/sonde/internal/transport"
	"github.com/sondehq/sonde/internal/version"
	"github.com/sondehq/sonde/protocol"
)

// Metrics holds the collector's metrics and observes ingest.
type Metrics struct {
	Registry *prometheus.Registry

	connected    *prometheus.GaugeVec
	ingested     *prometheus.CounterVec
	ingestFailed *prometheus.CounterVec
	ingestTime   prometheus.Histogram
	roundTrip    *prometheus.HistogramVec
	alerts       alertMetrics
}

var _ ingest.Observer = (*Metrics)(nil)

// New registers the collector's metrics on a fresh registry.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		connected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sonde_agents_connected", Help: "Agents with a live connection, by transport: quic, or tcp where the agent's network blocks UDP.",
		}, []string{"transport"}),
		ingested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sonde_snapshots_ingested_total", Help: "Snapshots received and committed, by kind; duplicates were stored before.",
		}, []string{"kind", "duplicate"}),
		ingestFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sonde_snapshots_rejected_total", Help: "Snapshots not stored, by reason; busy: the collector told the agent to keep it and retry later.",
		}, []string{"reason"}),
		ingestTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sonde_ingest_duration_seconds", Help: "Time to store and ack one snapshot.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		roundTrip: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "sonde_snapshot_request_duration_seconds", Help: "On-demand snapshot round trips, request to stored snapshot, by result: ok, error, or over_budget (the agent refused: its on-demand budget was spent).",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"result"}),
		alerts: newAlertMetrics(),
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "sonde_build_info", Help: "Build of this collector; always 1.",
		ConstLabels: prometheus.Labels{"version": version.Version, "revision": version.Revision(), "goversion": runtime.Version()},
	})
	buildInfo.Set(1)
	r.MustRegister(m.connected, m.ingested, m.ingestFailed, m.ingestTime, m.roundTrip, buildInfo, m.alerts.evaluations, m.alerts.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, kind := range []string{transport.KindQUIC, transport.KindTCP} {
		m.connected.WithLabelValues(kind)
	}
	for _, reason := range []string{"decode", "identity", "store", "busy"} {
		m.ingestFailed.WithLabelValues(reason)
	}
	return m
}

// Handler serves the registry, OpenMetrics included.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{EnableOpenMetrics: true, Registry: m.Registry})
}

// Connected implements ingest.Observer.
func (m *Metrics) Connected(kind string, delta int) {
	m.connected.WithLabelValues(kind).Add(float64(delta))
}

// Ingested implements ingest.Observer.
func (m *Metrics) Ingested(kind string, duplicate bool, took time.Duration) {
	dup := "false"
	if duplicate {
		dup = "true"
	}
	m.ingested.WithLabelValues(kind, dup).Inc()
	m.ingestTime.Observe(took.Seconds())
}

// IngestFailed implements ingest.Observer.
func (m *Metrics) IngestFailed(reason string) { m.ingestFailed.WithLabelValues(reason).Inc() }

// RoundTrip implements ingest.Observer.
func (m *Metrics) RoundTrip(took time.Duration, err error) {
	result := "ok"
	var pe *protocol.Error
	switch {
	case errors.As(err, &pe) && pe.Code == protocol.CodeTooMany:
		result = "over_budget" // the agent protecting its machine
	case err != nil:
		result = "error"
	}
	m.roundTrip.WithLabelValues(result).Observe(took.Seconds())
}
