//go:build bench

package bench

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// figures is everything TestTransportFigures measured.
type figures struct {
	starts, requests, conns int
	loadFrom, loadTo        string
	wall                    time.Duration

	connect  map[string][]start
	onDemand map[string]*onDemand
	alone    collectorMem
	memory   []memRound
}

// table prints the figures as markdown, QUIC and TCP side by side.
func (f *figures) table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Command: `make bench-transport` (`go test -tags bench -count=1 -v -timeout 30m -run TestTransportFigures ./e2e/bench/`)"+
		" with TRANSPORT_STARTS=%d TRANSPORT_REQUESTS=%d TRANSPORT_CONNS=%d; load average %s before, %s after; %s in all.\n\n",
		f.starts, f.requests, f.conns, f.loadFrom, f.loadTo, f.wall.Round(time.Second))
	b.WriteString("| | QUIC (UDP allowed) | TCP (UDP dropped) |\n|---|---|---|\n")
	row := func(what string, each func(kind string) string) {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", what, each(kindQUIC), each(kindTCP))
	}
	row(fmt.Sprintf("agent start → connected, from outside (exec to the status file read connected, %s polls): p50 / p99 / max", pollEvery),
		func(k string) string {
			return fmt.Sprintf("%s (n=%d)", spread(f.connect[k], func(s start) time.Duration { return s.outside }), len(f.connect[k]))
		})
	row("of which in the agent's connection loop (its status file: Since − Started): p50 / max", func(k string) string {
		d := durations(f.connect[k], func(s start) time.Duration { return s.inside })
		return ms(quantile(d, 0.5)) + " / " + ms(quantile(d, 1))
	})
	row(`on-demand snapshot, probe "system" (POST through the API, agent, stored; wall time at the HTTP client): p50 / p99 / max`,
		func(k string) string {
			return fmt.Sprintf("%s (n=%d)", spread(f.onDemand[k].took, func(d time.Duration) time.Duration { return d }), len(f.onDemand[k].took))
		})
	row("agent CPU per on-demand snapshot (utime + stime): around each request / over the whole series, mean", func(k string) string {
		o := f.onDemand[k]
		if len(o.took) == 0 {
			return "n/a"
		}
		return ms(o.cpu/time.Duration(len(o.took))) + " / " + ms(o.series/time.Duration(len(o.took)))
	})
	perConn := func(what string, v func(r memRound) string) {
		row(what, func(k string) string {
			var each []string
			for _, r := range f.memory {
				if r.kind == k {
					each = append(each, v(r))
				}
			}
			return strings.Join(each, ", ")
		})
	}
	n := float64(f.conns)
	perConn(fmt.Sprintf("collector RSS per idle connection: (RSS with %d − RSS alone) / %d, each round", f.conns, f.conns), func(r memRound) string {
		return kb(float64(r.with.rss-f.alone.rss) / n)
	})
	perConn("collector Go heap in use per connection (the same difference, just after a GC), each round", func(r memRound) string {
		return kb((r.with.heap - f.alone.heap) / n)
	})
	perConn("collector goroutines per connection, each round", func(r memRound) string {
		return fmt.Sprintf("%.2f", (r.with.goroutines-f.alone.goroutines)/n)
	})
	perConn("collector goroutine stacks per connection, each round", func(r memRound) string {
		return kb((r.with.stacks - f.alone.stacks) / n)
	})
	fmt.Fprintf(&b, "\nThe collector alone (%d agents enrolled, none connected): RSS %s, heap in use %s, %.0f goroutines. "+
		"Each round, RSS before it (after the last round's connections closed, %s later) → with its connections:",
		f.conns, mb(float64(f.alone.rss)), mb(f.alone.heap), f.alone.goroutines, settle)
	for i, r := range f.memory {
		fmt.Fprintf(&b, " %d. %s %s → %s;", i+1, r.kind, mb(float64(r.before.rss)), mb(float64(r.with.rss)))
	}
	b.WriteString("\n")
	return b.String()
}

// spread is "p50 / p99 / max" of the durations of list.
func spread[T any](list []T, d func(T) time.Duration) string {
	ds := durations(list, d)
	return ms(quantile(ds, 0.5)) + " / " + ms(quantile(ds, 0.99)) + " / " + ms(quantile(ds, 1))
}

// durations returns the durations of list, sorted.
func durations[T any](list []T, d func(T) time.Duration) []time.Duration {
	out := make([]time.Duration, len(list))
	for i, v := range list {
		out[i] = d(v)
	}
	slices.Sort(out)
	return out
}

// quantile is the nearest-rank q quantile of sorted: with 20 values, p99
// is the largest.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return -1
	}
	i := max(0, int(math.Ceil(q*float64(len(sorted))))-1)
	return sorted[i]
}

func ms(d time.Duration) string {
	if d < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f ms", float64(d)/1e6)
}

// kb and mb are decimal, as elsewhere in BENCHMARKS.md.
func kb(bytes float64) string { return fmt.Sprintf("%.1f KB", bytes/1e3) }
func mb(bytes float64) string { return fmt.Sprintf("%.1f MB", bytes/1e6) }

// loadAvg is /proc/loadavg's three averages.
func loadAvg(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		t.Fatalf("/proc/loadavg: %q", b)
	}
	return strings.Join(f[:3], " ")
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, s)
	}
	return v
}
