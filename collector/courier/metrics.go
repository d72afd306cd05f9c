package courier

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sondehq/sonde/collector/helpdesk"
	"github.com/sondehq/sonde/collector/store"
)

// metrics is the courier's part of /metrics.
type metrics struct {
	c        *Courier
	attempts *prometheus.CounterVec
	follows  *prometheus.CounterVec
	outbox   *prometheus.Desc
}

func newMetrics(c *Courier) *metrics {
	return &metrics{c: c,
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sonde_helpdesk_attempts_total", Help: "Attempts to deliver a step (open, comment, attach) to a helpdesk, by result: ok, error, or throttled (the helpdesk answered 429).",
		}, []string{"helpdesk", "step", "result"}),
		follows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sonde_helpdesk_followed_total", Help: "Moves made on Sonde tickets because their helpdesk ticket moved (resolve, close, reopen, assign).",
		}, []string{"helpdesk", "action"}),
		outbox: prometheus.NewDesc("sonde_helpdesk_deliveries", "Steps in the helpdesk outbox by state: pending, failing (pending, its last attempt failed) or sent.", []string{"helpdesk", "state"}, nil),
	}
}

func (m *metrics) attempt(d store.Delivery, err error) {
	result := "ok"
	var se *helpdesk.StatusError
	switch {
	case errors.As(err, &se) && se.Code == 429:
		result = "throttled"
	case err != nil:
		result = "error"
	}
	m.attempts.WithLabelValues(d.Helpdesk, d.Step, result).Inc()
}

func (m *metrics) followed(name string, moves []string) {
	for _, a := range moves {
		m.follows.WithLabelValues(name, a).Inc()
	}
}

// Collector is the courier's metrics, to register on the collector's
// registry.
func (c *Courier) Collector() prometheus.Collector {
	c.init()
	return c.metrics
}

func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	m.attempts.Describe(ch)
	m.follows.Describe(ch)
	ch <- m.outbox
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.attempts.Collect(ch)
	m.follows.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := m.c.Store.DeliveryCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(m.outbox, err)
		return
	}
	seen := map[[2]string]bool{}
	for _, n := range counts {
		seen[[2]string{n.Helpdesk, n.State}] = true
		ch <- prometheus.MustNewConstMetric(m.outbox, prometheus.GaugeValue, float64(n.Count), n.Helpdesk, n.State)
	}
	for _, name := range m.c.Names() {
		for _, st := range []string{store.DeliveryWait, store.DeliveryFailed, store.DeliverySent} {
			if !seen[[2]string{name, st}] {
				ch <- prometheus.MustNewConstMetric(m.outbox, prometheus.GaugeValue, 0, name, st)
			}
		}
	}
}
