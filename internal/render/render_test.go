package render

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/protocol"
)

func TestUnits(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Bytes(27 << 20), "27 MiB"},
		{Bytes(1.5 * (1 << 30)), "1.5 GiB"},
		{Bytes(512), "512 B"},
		{Bytes(1023), "1023 B"},
		{Bytes(1024), "1 KiB"},
		{Bytes(0), "0 B"},
		{Bytes(10 * (1 << 40)), "10 TiB"},
		{ByteRate(3.4 * (1 << 20)), "3.4 MiB/s"},
		{BitRate(1.2e9), "1.2 Gbit/s"},
		{BitRate(54e6), "54 Mbit/s"},
		{BitRate(866.7e6), "867 Mbit/s"},
		{BitRate(999.9e6), "1 Gbit/s"},
		{BitRate(500), "500 bit/s"},
		{Duration(76 * time.Hour), "3 days 4 h"},
		{Duration(24 * time.Hour), "1 day"},
		{Duration(4 * time.Minute), "4 min"},
		{Duration(90 * time.Second), "1 min 30 s"},
		{Duration(2*time.Hour + 5*time.Minute), "2 h 5 min"},
		{Duration(12 * time.Second), "12 s"},
		{Duration(1500 * time.Millisecond), "1.5 s"},
		{Duration(250 * time.Millisecond), "250 ms"},
		{Duration(40 * time.Microsecond), "40 µs"},
		{Duration(0), "0 s"},
		{Duration(-3 * time.Hour), "-3 h"},
		{Seconds(-0.000182345), "-182 µs"},
		{Seconds(3e-10), "0.3 ns"},
		{Seconds(1e300), "1e+300 s"}, // not a real span: shown as sent
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestTimes(t *testing.T) {
	now := time.Date(2026, 12, 6, 18, 30, 0, 0, time.UTC)
	for _, tc := range []struct{ got, want string }{
		{Time(time.Date(2026, 12, 3, 14, 2, 0, 0, time.UTC), now), "3 days ago, 2026-12-03 14:02 UTC"},
		{Time(now.Add(-4*time.Minute), now), "4 min ago, 2026-12-06 18:26 UTC"},
		{Time(now.Add(-47*time.Hour), now), "47 h ago, 2026-12-04 19:30 UTC"},
		{Time(now.Add(-2*time.Second), now), "just now, 2026-12-06 18:29 UTC"},
		{Time(now.Add(2*time.Hour), now), "in 2 h, 2026-12-06 20:30 UTC"},
		{Time(time.Time{}, now), "never"},
		// Another zone shows as UTC all the same.
		{Time(time.Date(2026, 12, 6, 19, 0, 0, 0, time.FixedZone("CET", 3600)), now), "30 min ago, 2026-12-06 18:00 UTC"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// doc is a stored snapshot with the fields a person reads most: sizes,
// rates, durations and times, and a process list.
func doc(t *testing.T, captured time.Time) *protocol.Document {
	t.Helper()
	raw := func(s string) json.RawMessage {
		if !json.Valid([]byte(s)) {
			t.Fatalf("invalid test JSON: %s", s)
		}
		return json.RawMessage(s)
	}
	boot := time.Date(2026, 12, 3, 14, 2, 0, 0, time.UTC).Unix()
	return &protocol.Document{AgentID: "a1", Kind: "full", CapturedAt: captured, Probes: []protocol.ProbeJSON{
		{Name: "memory", DurationMS: 0.8, Data: raw(`{"total_bytes": 8589934592, "available_bytes": 28311552, "swap": {"used_bytes": 0}}`)},
		{Name: "system", DurationMS: 2, Data: raw(`{"boot_time": ` + itoa(boot) + `, "uptime_seconds": 275280}`)},
		{Name: "wifi", DurationMS: 12.5, Data: raw(`{"rx_rate_mbps": 1200, "signal_dbm": -61, "connected_s": 5123}`)},
		{Name: "cpu", DurationMS: 1, Data: raw(`{"usage_percent": {"total": 12.5, "user": 10.25}, "logical_cores": 8}`)},
		{Name: "disk", DurationMS: 3, Data: raw(`{"mounts": [{"mountpoint": "/", "used_ratio": 0.934, "read_time_ms": 1234567}]}`)},
		{Name: "logs", DurationMS: 40, Data: raw(`{"window": {"since": "2026-12-06T17:30:00Z"}, "messages": [{"text": "2026-12-06T17:30:00Z is not a time in a message"}]}`)},
		{Name: "processes", DurationMS: 1.5, Data: raw(`{"top_cpu": [{"pid": 4242, "name": "bash", "cpu_percent": 100, "rss_bytes": 3567616, "started": ` + itoa(boot) + `}]}`)},
	}}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestSnapshotText(t *testing.T) {
	now := time.Date(2026, 12, 6, 18, 30, 0, 0, time.UTC)
	captured := now.Add(-4 * time.Minute)
	var b strings.Builder
	if err := Snapshot(&b, doc(t, captured), Age{SnapshotID: 27, LatestHealth: captured.Add(2 * time.Minute)}, now); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"snapshot 27 (full) captured 4 min ago, 2026-12-06 18:26 UTC by agent a1\n",
		"== memory (800 µs)\n",
		"  total_bytes: 8 GiB\n",
		"  available_bytes: 27 MiB\n",
		"    used_bytes: 0 B\n",
		"  boot_time: 3 days ago, 2026-12-03 14:02 UTC\n",
		"  uptime_seconds: 3 days 4 h\n",
		"  rx_rate_mbps: 1.2 Gbit/s\n",
		"  signal_dbm: -61 dBm\n",
		"  connected_s: 1 h 25 min\n",
		"    total: 12.5 %\n", // usage_percent's unit carries to its members
		"    user: 10.25 %\n",
		"  logical_cores: 8\n",
		"    used_ratio: 93.4 %\n",
		"    read_time_ms: 20 min 35 s\n",
		"    since: 1 h ago, 2026-12-06 17:30 UTC\n",
		"      text: 2026-12-06T17:30:00Z is not a time in a message\n",
		"== processes (1.5 ms), as of 4 min ago (snapshot 27)\n",
		"      rss_bytes: 3.4 MiB\n",
		"      started: 3 days ago, 2026-12-03 14:02 UTC\n",
		"      pid: 4242\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	for _, raw := range []string{"8589934592", "28311552", "275280", "1200", "1796" /* the epochs' digits */, "NOTE"} {
		if strings.Contains(out, raw) {
			t.Errorf("%q shown raw, or a fresh list called stale:\n%s", raw, out)
		}
	}
}

// TestSnapshotStale: a process list older than the agent's latest health
// sample by more than StaleAfter says it may be stale; exactly StaleAfter
// does not.
func TestSnapshotStale(t *testing.T) {
	now := time.Date(2026, 12, 6, 18, 30, 0, 0, time.UTC)
	captured := now.Add(-4 * time.Minute)
	for _, tc := range []struct {
		health time.Time
		stale  bool
	}{
		{now.Add(-20 * time.Second), true},
		{captured.Add(StaleAfter), false},
		{time.Time{}, false},
	} {
		var b strings.Builder
		if err := Snapshot(&b, doc(t, captured), Age{SnapshotID: 27, LatestHealth: tc.health}, now); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		note := "== processes (1.5 ms), as of 4 min ago (snapshot 27)\n  NOTE: this list may be stale: the agent reported health 3 min 40 s after this snapshot (latest 2026-12-06 18:29 UTC)"
		if got := strings.Contains(out, note); got != tc.stale {
			t.Errorf("health at %v: stale note %v, want %v:\n%s", tc.health, got, tc.stale, out)
		}
		if strings.Count(out, "NOTE") > 1 {
			t.Errorf("a note on more than the process list:\n%s", out)
		}
	}
}

func TestUnitOfNames(t *testing.T) {
	for key, want := range map[string]string{
		"rx_bytes": "1 KiB", "bytes_read": "1 KiB", "spool_cap": "1 KiB", "Total_Bytes": "1 KiB",
		"io_time_ms": "1 s", "total_us": "1 ms", "pending_seconds": "17 min 4 s", "timeout_s": "17 min 4 s",
		"power_on_hours": "42 days 16 h", "controller_busy_minutes": "17 h 4 min",
		"speed_mbps": "1 Gbit/s", "frequency_mhz": "1024 MHz", "temperature_c": "1024 °C",
		"installed_at": "1970-01-01 00:17 UTC", "checked_at": "1970-01-01 00:17 UTC",
	} {
		u := unitOf(key)
		if u == nil {
			t.Errorf("%s: no unit", key)
			continue
		}
		if got := u.show(1024, time.Unix(1024, 0)); !strings.HasSuffix(got, want) {
			t.Errorf("%s: %q, want it to end in %q", key, got, want)
		}
	}
	for _, key := range []string{"pid", "count", "threads", "rx_packets", "cpus", "mtu", "data_units_read", "taken"} {
		if unitOf(key) != nil {
			t.Errorf("%s has a unit", key)
		}
	}
}
