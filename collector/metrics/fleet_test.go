package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sondehq/sonde/collector/ingest"
	"github.com/sondehq/sonde/collector/metrics"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/store/sqlite"
	"github.com/sondehq/sonde/collector/ticket"
	"github.com/sondehq/sonde/protocol"
)

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sonde.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// fixture fills st with agents, tickets and bundles whose KPIs are known,
// relative to now.
func fixture(t *testing.T, st *sqlite.Store, now time.Time) {
	t.Helper()
	ctx := context.Background()
	for _, a := range []store.Agent{
		{ID: "a1", Facts: protocol.Facts{Hostname: "web1", OS: "linux"}, EnrolledAt: now.Add(-72 * time.Hour)},
		{ID: "a2", Facts: protocol.Facts{Hostname: "pc2", OS: "windows"}, EnrolledAt: now.Add(-72 * time.Hour)},
		{ID: "a3", Facts: protocol.Facts{Hostname: "old3", OS: "linux"}, EnrolledAt: now.Add(-72 * time.Hour)},
	} {
		if err := st.AddAgent(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.RevokeAgent(ctx, "a3", now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	health := &store.Snapshot{Document: protocol.Document{
		AgentID: "a1", BootEpoch: 1, Seq: 1, Kind: "health", CapturedAt: now.Add(-2 * time.Minute),
		Probes: []protocol.ProbeJSON{
			{Name: "disk", Data: []byte(`{"mounts":[{"mountpoint":"/","used_ratio":0.5},{"mountpoint":"/home","used_ratio":0.25}]}`)},
			{Name: "memory", Data: []byte(`{"used_ratio":0.75,"available_bytes":1}`)},
		},
	}, ReceivedAt: now.Add(-time.Minute)} // a1 last seen a minute ago
	if _, _, err := st.PutSnapshot(ctx, health); err != nil {
		t.Fatal(err)
	}

	h := time.Hour
	type step struct {
		at time.Duration // before now
		r  ticket.Request
	}
	resolve := ticket.Request{Action: ticket.ActResolve}
	tickets := []struct {
		ref    string
		opened time.Duration
		steps  []step
	}{
		{"T1", 10 * h, []step{{8 * h, resolve}}}, // 2 h, first contact
		{"T2", 10 * h, []step{{9 * h, ticket.Request{Action: ticket.ActEscalate, To: "l2"}}, {5 * h, resolve}}},       // 5 h, escalated
		{"T3", 10 * h, []step{{9 * h, resolve}, {8 * h, ticket.Request{Action: ticket.ActReopen}}, {7 * h, resolve}}}, // 1 h, reopened
		{"T4", 50 * 24 * h, []step{{40 * 24 * h, resolve}}},                                                           // outside the window
		{"T5", 3 * h, nil}, // open at l1
		{"T6", 3 * h, []step{{2 * h, ticket.Request{Action: ticket.ActEscalate, To: "l2"}}}}, // open, escalated to l2
	}
	for _, tc := range tickets {
		at := now.Add(-tc.opened)
		_, err := st.CreateTicket(ctx, ticket.Ticket{Ref: tc.ref, Title: tc.ref, Tier: ticket.L1, Status: ticket.New,
			CreatedBy: "test", CreatedAt: at, UpdatedAt: at}, ticket.Event{At: at, Actor: "test", Kind: "opened"})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range tc.steps {
			_, err := st.UpdateTicket(ctx, tc.ref, func(tk *ticket.Ticket) (ticket.Event, error) {
				return ticket.Apply(tk, s.r, "test", now.Add(-s.at))
			})
			if err != nil {
				t.Fatalf("%s %s: %v", tc.ref, s.r.Action, err)
			}
		}
	}
	for i, b := range []store.Bundle{
		{Ticket: "T1", AgentID: "a1", Findings: []string{"disk.full", "dns.slow"}, CreatedAt: now.Add(-9 * h)},
		{Ticket: "T2", AgentID: "a1", Findings: []string{"disk.full"}, CreatedAt: now.Add(-6 * h)},
		{Ticket: "T3", AgentID: "a2", Findings: []string{"disk.full", "wifi.weak"}, CreatedAt: now.Add(-9 * h)},
		{Ticket: "T4", AgentID: "a2", Findings: []string{"wifi.weak"}, CreatedAt: now.Add(-45 * 24 * h)},
	} {
		b.Kind, b.SHA256, b.CreatedBy, b.Path = "bundle", "00", "test", "b"+string(rune('0'+i))
		if _, err := st.AddBundle(ctx, b, ticket.Event{At: b.CreatedAt, Actor: "test", Kind: "bundle"}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFleetKPIs(t *testing.T) {
	st := openStore(t)
	now := time.Now().Truncate(time.Second)
	fixture(t, st, now)
	f := metrics.NewFleet(metrics.FleetConfig{
		Store:     st,
		Connected: func() map[string]ingest.Link { return map[string]ingest.Link{"a1": {Since: now, Transport: "quic"}} },
		PerAgent:  true,
		Now:       func() time.Time { return now },
	})
	if problems, err := testutil.CollectAndLint(f); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
	want := `
# HELP sonde_agents Enrolled agents by state (online, offline, revoked) and OS.
# TYPE sonde_agents gauge
sonde_agents{os="linux",state="online"} 1
sonde_agents{os="linux",state="revoked"} 1
sonde_agents{os="windows",state="offline"} 1
# HELP sonde_tickets_open Tickets neither resolved nor closed, by tier and status.
# TYPE sonde_tickets_open gauge
sonde_tickets_open{status="new",tier="l1"} 1
sonde_tickets_open{status="escalated",tier="l2"} 1
# HELP sonde_tickets_first_contact_resolution_ratio Share of tickets resolved in the last 30 days without escalation and never reopened.
# TYPE sonde_tickets_first_contact_resolution_ratio gauge
sonde_tickets_first_contact_resolution_ratio 0.3333333333333333
# HELP sonde_tickets_escalation_ratio Share of tickets resolved in the last 30 days that were escalated.
# TYPE sonde_tickets_escalation_ratio gauge
sonde_tickets_escalation_ratio 0.3333333333333333
# HELP sonde_repeat_incidents Same finding on the same machine in more than one ticket within the last 30 days.
# TYPE sonde_repeat_incidents gauge
sonde_repeat_incidents 1
# HELP sonde_store_errors_total Store queries that failed while computing metrics.
# TYPE sonde_store_errors_total counter
sonde_store_errors_total 0
# HELP sonde_agent_up 1 when the agent has a live connection, else 0; revoked agents are left out.
# TYPE sonde_agent_up gauge
sonde_agent_up{agent_id="a1",hostname="web1"} 1
sonde_agent_up{agent_id="a2",hostname="pc2"} 0
# HELP sonde_agent_disk_used_ratio Used share of a file system, from the agent's latest health snapshot.
# TYPE sonde_agent_disk_used_ratio gauge
sonde_agent_disk_used_ratio{agent_id="a1",hostname="web1",mountpoint="/"} 0.5
sonde_agent_disk_used_ratio{agent_id="a1",hostname="web1",mountpoint="/home"} 0.25
# HELP sonde_agent_memory_used_ratio Used share of memory, from the agent's latest health snapshot.
# TYPE sonde_agent_memory_used_ratio gauge
sonde_agent_memory_used_ratio{agent_id="a1",hostname="web1"} 0.75
`
	names := []string{"sonde_agents", "sonde_tickets_open", "sonde_tickets_first_contact_resolution_ratio",
		"sonde_tickets_escalation_ratio", "sonde_repeat_incidents", "sonde_store_errors_total",
		"sonde_agent_up", "sonde_agent_disk_used_ratio", "sonde_agent_memory_used_ratio"}
	if err := testutil.CollectAndCompare(f, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	hist := `
# HELP sonde_ticket_resolution_seconds Time from opening to first resolution of the tickets first resolved in the last 30 days; a moving window, so query it without rate().
# TYPE sonde_ticket_resolution_seconds histogram
sonde_ticket_resolution_seconds_bucket{le="300"} 0
sonde_ticket_resolution_seconds_bucket{le="900"} 0
sonde_ticket_resolution_seconds_bucket{le="1800"} 0
sonde_ticket_resolution_seconds_bucket{le="3600"} 1
sonde_ticket_resolution_seconds_bucket{le="14400"} 2
sonde_ticket_resolution_seconds_bucket{le="28800"} 3
sonde_ticket_resolution_seconds_bucket{le="86400"} 3
sonde_ticket_resolution_seconds_bucket{le="259200"} 3
sonde_ticket_resolution_seconds_bucket{le="604800"} 3
sonde_ticket_resolution_seconds_bucket{le="1.2096e+06"} 3
sonde_ticket_resolution_seconds_bucket{le="2.592e+06"} 3
sonde_ticket_resolution_seconds_bucket{le="+Inf"} 3
sonde_ticket_resolution_seconds_sum 28800
sonde_ticket_resolution_seconds_count 3
`
	if err := testutil.CollectAndCompare(f, strings.NewReader(hist), "sonde_ticket_resolution_seconds"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(f, "sonde_agent_last_seen_timestamp_seconds"); n != 1 {
		t.Errorf("last-seen series: %d, want 1 (a1 only)", n)
	}
	if n := testutil.CollectAndCount(f, "sonde_store_size_bytes"); n != 1 {
		t.Errorf("store size series: %d, want 1", n)
	}
}

// failing is a store whose KPI queries fail.
type failing struct{ *sqlite.Store }

func (failing) OpenTickets(context.Context) ([]store.TicketCount, error) {
	return nil, errors.New("disk on fire")
}

func TestFleetCountsStoreErrorsAndCaches(t *testing.T) {
	now := time.Now()
	f := metrics.NewFleet(metrics.FleetConfig{Store: failing{openStore(t)}, Now: func() time.Time { return now }})
	if problems, err := testutil.CollectAndLint(f); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
	errs := func() string {
		return `
# HELP sonde_store_errors_total Store queries that failed while computing metrics.
# TYPE sonde_store_errors_total counter
`
	}
	if err := testutil.CollectAndCompare(f, strings.NewReader(errs()+"sonde_store_errors_total 1\n"), "sonde_store_errors_total"); err != nil {
		t.Error("within the cache period:", err)
	}
	now = now.Add(metrics.DefaultFleetCache)
	if err := testutil.CollectAndCompare(f, strings.NewReader(errs()+"sonde_store_errors_total 2\n"), "sonde_store_errors_total"); err != nil {
		t.Error("after the cache period:", err)
	}
	if n := testutil.CollectAndCount(f, "sonde_agent_up"); n != 0 {
		t.Errorf("per-agent series without the flag: %d", n)
	}
}

func TestRegistryLint(t *testing.T) {
	m := metrics.New()
	m.RegisterFleet(openStore(t), nil, true)
	m.AlertEvaluated(20*time.Millisecond, nil)
	m.AlertEvaluated(time.Second, errors.New("rule broke"))
	problems, err := testutil.GatherAndLint(m.Registry)
	if err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
	want := `
# HELP sonde_alert_evaluations_total Alert rule evaluation rounds, by result (ok or error).
# TYPE sonde_alert_evaluations_total counter
sonde_alert_evaluations_total{result="error"} 1
sonde_alert_evaluations_total{result="ok"} 1
`
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want), "sonde_alert_evaluations_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(m.Registry, "sonde_alert_evaluation_duration_seconds"); err != nil || n != 1 {
		t.Errorf("evaluation duration: %d series, %v", n, err)
	}
}

// TestConnectedByTransport: connected agents are counted by transport,
// both series present from the start.
func TestConnectedByTransport(t *testing.T) {
	m := metrics.New()
	m.Connected("quic", 1)
	m.Connected("quic", 1)
	m.Connected("tcp", 1)
	m.Connected("quic", -1)
	want := `
# HELP sonde_agents_connected Agents with a live connection, by transport: quic, or tcp where the agent's network blocks UDP.
# TYPE sonde_agents_connected gauge
sonde_agents_connected{transport="quic"} 1
sonde_agents_connected{transport="tcp"} 1
`
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want), "sonde_agents_connected"); err != nil {
		t.Error(err)
	}
	fresh := metrics.New()
	if n, err := testutil.GatherAndCount(fresh.Registry, "sonde_agents_connected"); err != nil || n != 2 {
		t.Errorf("a fresh registry has %d sonde_agents_connected series (%v), want quic and tcp at 0", n, err)
	}
}

// TestRoundTripResults: on-demand round trips count by result, and an
// agent's refusal over its budget is told from other failures.
func TestRoundTripResults(t *testing.T) {
	m := metrics.New()
	m.RoundTrip(time.Millisecond, nil)
	m.RoundTrip(time.Millisecond, errors.New("agent did not answer in time"))
	m.RoundTrip(time.Millisecond, fmt.Errorf("agent refused: %w", &protocol.Error{Code: protocol.CodeTooMany, RetryAfter: 1000}))
	m.RoundTrip(time.Millisecond, fmt.Errorf("agent refused: %w", &protocol.Error{Code: protocol.CodeUnauthorized}))
	for result, want := range map[string]float64{"ok": 1, "error": 2, "over_budget": 1} {
		var got float64
		mfs, err := m.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != "sonde_snapshot_request_duration_seconds" {
				continue
			}
			for _, s := range mf.GetMetric() {
				for _, l := range s.GetLabel() {
					if l.GetName() == "result" && l.GetValue() == result {
						got = float64(s.GetHistogram().GetSampleCount())
					}
				}
			}
		}
		if got != want {
			t.Errorf("result %q: %v round trips, want %v", result, got, want)
		}
	}
}
