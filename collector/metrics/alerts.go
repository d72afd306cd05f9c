package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// alertMetrics count and time the alert runner's rule evaluations.
type alertMetrics struct {
	evaluations *prometheus.CounterVec
	duration    prometheus.Histogram
}

func newAlertMetrics() alertMetrics {
	a := alertMetrics{
		evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sonde_alert_evaluations_total", Help: "Alert rule evaluation rounds, by result (ok or error).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sonde_alert_evaluation_duration_seconds", Help: "Time one alert rule evaluation round took.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
	}
	a.evaluations.WithLabelValues("ok")
	a.evaluations.WithLabelValues("error")
	return a
}

// AlertEvaluated records one alert evaluation round: how long it took and
// whether it failed.
func (m *Metrics) AlertEvaluated(took time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.alerts.evaluations.WithLabelValues(result).Inc()
	m.alerts.duration.Observe(took.Seconds())
}
