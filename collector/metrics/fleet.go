package metrics

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sondehq/sonde/collector/ingest"
	"github.com/sondehq/sonde/collector/store"
)

// KPIWindow is how far back the ticket KPIs look.
const KPIWindow = 30 * 24 * time.Hour

// DefaultFleetCache is how long one scrape's fleet metrics are reused.
const DefaultFleetCache = 15 * time.Second

// resolutionBuckets are upper bounds for time to resolution, in seconds:
// 5 min up to 30 days.
var resolutionBuckets = []float64{300, 900, 1800, 3600, 4 * 3600, 8 * 3600, 86400, 3 * 86400, 7 * 86400, 14 * 86400, 30 * 86400}

// FleetConfig configures a Fleet collector.
type FleetConfig struct {
	Store store.Store
	// Connected returns the agents with a live connection; nil means none.
	Connected func() map[string]ingest.Link
	// PerAgent adds one series per agent: mind the cardinality.
	PerAgent bool
	// Cache is how long computed metrics are reused; 0 means DefaultFleetCache.
	Cache time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Fleet is a prometheus.Collector that computes fleet, store and ticket KPI
// metrics from the store at scrape time, cached for a short while.
type Fleet struct {
	cfg FleetConfig

	mu       sync.Mutex
	at       time.Time
	cached   []prometheus.Metric
	storeErr float64
}

var (
	descAgents      = prometheus.NewDesc("sonde_agents", "Enrolled agents by state (online, offline, revoked) and OS.", []string{"state", "os"}, nil)
	descAgentUp     = prometheus.NewDesc("sonde_agent_up", "1 when the agent has a live connection, else 0; revoked agents are left out.", []string{"agent_id", "hostname"}, nil)
	descAgentSeen   = prometheus.NewDesc("sonde_agent_last_seen_timestamp_seconds", "When the agent was last heard from, Unix seconds.", []string{"agent_id", "hostname"}, nil)
	descAgentDisk   = prometheus.NewDesc("sonde_agent_disk_used_ratio", "Used share of a file system, from the agent's latest health snapshot.", []string{"agent_id", "hostname", "mountpoint"}, nil)
	descAgentMem    = prometheus.NewDesc("sonde_agent_memory_used_ratio", "Used share of memory, from the agent's latest health snapshot.", []string{"agent_id", "hostname"}, nil)
	descStoreSize   = prometheus.NewDesc("sonde_store_size_bytes", "Space the store takes on disk (database and write-ahead log).", nil, nil)
	descStoreErrors = prometheus.NewDesc("sonde_store_errors_total", "Store queries that failed while computing metrics.", nil, nil)
	descOpen        = prometheus.NewDesc("sonde_tickets_open", "Tickets neither resolved nor closed, by tier and status.", []string{"tier", "status"}, nil)
	descResolution  = prometheus.NewDesc("sonde_ticket_resolution_seconds", "Time from opening to first resolution of the tickets first resolved in the last 30 days; a moving window, so query it without rate().", nil, nil)
	descFCR         = prometheus.NewDesc("sonde_tickets_first_contact_resolution_ratio", "Share of tickets resolved in the last 30 days without escalation and never reopened.", nil, nil)
	descEscalation  = prometheus.NewDesc("sonde_tickets_escalation_ratio", "Share of tickets resolved in the last 30 days that were escalated.", nil, nil)
	descRepeat      = prometheus.NewDesc("sonde_repeat_incidents", "Same finding on the same machine in more than one ticket within the last 30 days.", nil, nil)
)

// NewFleet returns a fleet collector over cfg.Store.
func NewFleet(cfg FleetConfig) *Fleet {
	if cfg.Cache == 0 {
		cfg.Cache = DefaultFleetCache
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Fleet{cfg: cfg}
}

// RegisterFleet registers a fleet collector over st on the registry.
func (m *Metrics) RegisterFleet(st store.Store, connected func() map[string]ingest.Link, perAgent bool) {
	m.Registry.MustRegister(NewFleet(FleetConfig{Store: st, Connected: connected, PerAgent: perAgent}))
}

// Describe implements prometheus.Collector.
func (f *Fleet) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descAgents, descStoreSize, descStoreErrors, descOpen, descResolution, descFCR, descEscalation, descRepeat} {
		ch <- d
	}
	if f.cfg.PerAgent {
		for _, d := range []*prometheus.Desc{descAgentUp, descAgentSeen, descAgentDisk, descAgentMem} {
			ch <- d
		}
	}
}

// Collect implements prometheus.Collector.
func (f *Fleet) Collect(ch chan<- prometheus.Metric) {
	f.mu.Lock()
	now := f.cfg.Now()
	if f.cached == nil || now.Sub(f.at) >= f.cfg.Cache {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		f.cached = f.compute(ctx, now)
		cancel()
		f.at = now
	}
	out := f.cached
	f.mu.Unlock()
	for _, m := range out {
		ch <- m
	}
}

// compute queries the store; f.mu is held.
func (f *Fleet) compute(ctx context.Context, now time.Time) []prometheus.Metric {
	var out []prometheus.Metric
	emit := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		out = append(out, prometheus.MustNewConstMetric(d, t, v, labels...))
	}
	failed := func(err error) bool {
		if err != nil {
			f.storeErr++
		}
		return err != nil
	}
	st := f.cfg.Store

	if agents, err := st.Agents(ctx); !failed(err) {
		live := map[string]ingest.Link{}
		if f.cfg.Connected != nil {
			live = f.cfg.Connected()
		}
		type key struct{ state, os string }
		counts := map[key]int{}
		for _, a := range agents {
			state := "offline"
			if !a.RevokedAt.IsZero() {
				state = "revoked"
			} else if _, ok := live[a.ID]; ok {
				state = "online"
			}
			counts[key{state, a.Facts.OS}]++
			if f.cfg.PerAgent && state != "revoked" {
				f.agentSeries(ctx, a, state == "online", emit)
			}
		}
		for k, n := range counts {
			emit(descAgents, prometheus.GaugeValue, float64(n), k.state, k.os)
		}
	}
	if size, err := st.SizeBytes(ctx); !failed(err) {
		emit(descStoreSize, prometheus.GaugeValue, float64(size))
	}
	if open, err := st.OpenTickets(ctx); !failed(err) {
		for _, c := range open {
			emit(descOpen, prometheus.GaugeValue, float64(c.Count), c.Tier, c.Status)
		}
	}
	since := now.Add(-KPIWindow)
	if resolved, err := st.ResolvedTickets(ctx, since); !failed(err) {
		out = append(out, resolutionMetrics(resolved)...)
	}
	if n, err := st.RepeatIncidents(ctx, since); !failed(err) {
		emit(descRepeat, prometheus.GaugeValue, float64(n))
	}
	emit(descStoreErrors, prometheus.CounterValue, f.storeErr)
	return out
}

// resolutionMetrics are the histogram and ratios over resolved tickets;
// the ratios are left out when no ticket was resolved.
func resolutionMetrics(resolved []store.ResolvedTicket) []prometheus.Metric {
	buckets := make(map[float64]uint64, len(resolutionBuckets))
	for _, b := range resolutionBuckets {
		buckets[b] = 0
	}
	var sum float64
	var firstContact, escalated int
	for _, r := range resolved {
		secs := r.ResolvedAt.Sub(r.OpenedAt).Seconds()
		if secs < 0 {
			secs = 0
		}
		sum += secs
		for _, b := range resolutionBuckets {
			if secs <= b {
				buckets[b]++
			}
		}
		if r.Escalations > 0 {
			escalated++
		} else if r.Reopened == 0 {
			firstContact++
		}
	}
	out := []prometheus.Metric{prometheus.MustNewConstHistogram(descResolution, uint64(len(resolved)), sum, buckets)}
	if n := float64(len(resolved)); n > 0 {
		out = append(out,
			prometheus.MustNewConstMetric(descFCR, prometheus.GaugeValue, float64(firstContact)/n),
			prometheus.MustNewConstMetric(descEscalation, prometheus.GaugeValue, float64(escalated)/n))
	}
	return out
}

// agentSeries emits one agent's series; a failed health lookup counts as a
// store error and leaves the health ratios out.
func (f *Fleet) agentSeries(ctx context.Context, a store.Agent, up bool, emit func(*prometheus.Desc, prometheus.ValueType, float64, ...string)) {
	host := a.Facts.Hostname
	v := 0.0
	if up {
		v = 1
	}
	emit(descAgentUp, prometheus.GaugeValue, v, a.ID, host)
	if !a.LastSeen.IsZero() {
		emit(descAgentSeen, prometheus.GaugeValue, float64(a.LastSeen.UnixNano())/1e9, a.ID, host)
	}
	// An import is no enrolled agent's latest health (store.Delivers).
	list, err := f.cfg.Store.Snapshots(ctx, a.ID, store.SnapshotFilter{Kind: "health", Delivered: store.Delivers(a.ID), Limit: 1})
	if err != nil {
		f.storeErr++
		return
	}
	if len(list) == 0 {
		return
	}
	snap, err := f.cfg.Store.Snapshot(ctx, list[0].ID)
	if err != nil {
		f.storeErr++
		return
	}
	seen := map[string]bool{}
	for _, p := range snap.Probes {
		switch p.Name {
		case "disk":
			var d struct {
				Mounts []struct {
					Mountpoint string  `json:"mountpoint"`
					UsedRatio  float64 `json:"used_ratio"`
				} `json:"mounts"`
			}
			if json.Unmarshal(p.Data, &d) != nil {
				continue
			}
			for _, m := range d.Mounts {
				if m.Mountpoint == "" || seen[m.Mountpoint] {
					continue
				}
				seen[m.Mountpoint] = true
				emit(descAgentDisk, prometheus.GaugeValue, m.UsedRatio, a.ID, host, m.Mountpoint)
			}
		case "memory":
			var mem struct {
				UsedRatio *float64 `json:"used_ratio"`
			}
			if json.Unmarshal(p.Data, &mem) == nil && mem.UsedRatio != nil {
				emit(descAgentMem, prometheus.GaugeValue, *mem.UsedRatio, a.ID, host)
			}
		}
	}
}
