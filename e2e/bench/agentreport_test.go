//go:build bench

package bench

import (
	"fmt"
	"strings"
	"time"
)

// agentFigures is everything TestAgentFigures measured.
type agentFigures struct {
	snapshots, rounds int
	idle, health      time.Duration
	healthOnly        bool // AGENT_ONLY=health: no requests, no node_exporter
	loadFrom, loadTo  string
	wall              time.Duration

	build, agentVersion, exporterVersion string
	agentSize, exporterSize              int64
	exporterLines                        int // series in one scrape

	agent, exporter            []round
	agentOnline, exporterFirst memory // when connected; after the first scrape
	agentAfter, exporterAfter  memory // right after the requests
	agentIdle, exporterIdle    memory // idleAfter later
	idleWin, healthWin         window
}

// table prints the figures as markdown, the agent and node_exporter side
// by side, with the targets.
func (f *agentFigures) table() string {
	if f.healthOnly {
		return f.healthTable()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Command: `make bench-agent` (`go test -tags bench -count=1 -v -timeout 30m -run TestAgentFigures ./e2e/bench/`)"+
		" with AGENT_SNAPSHOTS=%d AGENT_ROUNDS=%d AGENT_IDLE_SECONDS=%.0f AGENT_HEALTH_SECONDS=%.0f; load average %s before, %s after; %s in all.\n\n",
		f.snapshots, f.rounds, f.idle.Seconds(), f.health.Seconds(), f.loadFrom, f.loadTo, f.wall.Round(time.Second))
	b.WriteString("| | sonde-agent | node_exporter | agent ÷ node_exporter | target |\n|---|---|---|---|---|\n")
	row := func(cells ...string) { fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | ")) }

	each := f.snapshots / f.rounds
	around := func(r round) time.Duration { return r.around / time.Duration(max(1, len(r.took))) }
	series := func(r round) time.Duration { return r.series / time.Duration(r.n) }
	aAround, eAround := perRound(f.agent, around), perRound(f.exporter, around)
	aSeries, eSeries := perRound(f.agent, series), perRound(f.exporter, series)
	row(fmt.Sprintf("CPU per collection (an on-demand full snapshot through the API; a scrape), around each request: median of %d rounds of %d [min–max]", f.rounds, each),
		medianRange(aAround), medianRange(eAround), ratio(aAround, eAround), "≤ 0.5")
	row("the same over each round's whole series (first request to last, the gaps included)",
		medianRange(aSeries), medianRange(eSeries), ratio(aSeries, eSeries), "")
	row("wall time per request at the client: p50 / p99 / max",
		wallSpread(f.agent), wallSpread(f.exporter), "", "")
	row("resident: VmRSS (RssAnon, RssFile) when online / after the first scrape",
		mem(f.agentOnline), mem(f.exporterFirst), rssRatio(f.agentOnline, f.exporterFirst), "")
	row("resident right after the requests", mem(f.agentAfter), mem(f.exporterAfter), rssRatio(f.agentAfter, f.exporterAfter), "")
	row(fmt.Sprintf("resident %s later, idle", idleAfter), mem(f.agentIdle), mem(f.exporterIdle), rssRatio(f.agentIdle, f.exporterIdle), "")
	w := f.idleWin
	row(fmt.Sprintf("CPU idle at the default health interval (`sonde-agent run`, 60 s), over %s", w.took.Round(time.Second)),
		fmt.Sprintf("%s = %s of a core (%d health samples)", ms2(w.cpu), core(w.cpu, w.took), w.samples),
		fmt.Sprintf("%s = %s, not scraped", ms2(w.exporter), core(w.exporter, w.took)), "", "≤ 0.05 % of a core")
	row(f.healthRow()...)
	row("binary", mb(float64(f.agentSize)), mb(float64(f.exporterSize)), fmt.Sprintf("%.2f", float64(f.agentSize)/float64(f.exporterSize)), "")

	fmt.Fprintf(&b, "\nCommands: agent %s, built `%s`; the collector built by the harness (`go build`), "+
		"`sonde-collector serve --data DIR --quic 127.0.0.1:PORT --http 127.0.0.1:PORT`, the agent enrolled with `sonde-agent enroll`; "+
		"`sonde-agent run --state DIR --health-interval 1h` for the requests, `sonde-agent run --state DIR` for the idle window, "+
		"`--health-interval 1s` for the health samples; `prometheus-node-exporter --web.listen-address=127.0.0.1:PORT` (%s, default collectors, %d series a scrape). "+
		"Requests: `POST /api/v1/agents/ID/snapshots` with `{\"fresh\":true}` (the default full set, run anew) and an l2 key, and `GET /metrics` (gzip), one every %s, "+
		"%d rounds of %d each, alternating which goes first; CPU is utime + stime from /proc/PID/stat (10 ms ticks: ±%s a request "+
		"over a round's series), memory from /proc/PID/status.\n",
		f.agentVersion, f.build, f.exporterVersion, f.exporterLines, requestEvery, f.rounds, each, ms2(10*time.Millisecond/time.Duration(each)))
	b.WriteString(healthMethod)
	return b.String()
}

// healthMethod says how the health sample's CPU is solved for.
const healthMethod = "\nHealth sample: the idle window (I: CPU C_i over T_i with k_i samples) and the 1 s window (H) are each " +
	"a·T + s·k, a the cost a second without samples, s a sample's; solved together, s = (C_h − C_i·T_h/T_i) / (k_h − k_i·T_h/T_i).\n"

// healthRow is the table's row of the CPU per health sample.
func (f *agentFigures) healthRow() []string {
	h, sample := f.healthWin, "n/a (no more samples a second than idle)"
	if perSample, base, ok := f.healthSample(); ok {
		sample = fmt.Sprintf("%s (idle without samples: %s of a core)", ms2(perSample), core(base, time.Second))
	}
	return []string{fmt.Sprintf("CPU per health sample (`--health-interval 1s` for %s: %d samples, %s), the idle cost solved out (below)",
		h.took.Round(time.Second), h.samples, ms2(h.cpu)), sample, "", "", "≤ 1 ms"}
}

// healthTable prints what AGENT_ONLY=health measured: the idle window and
// the health sample.
func (f *agentFigures) healthTable() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Command: `AGENT_ONLY=health make bench-agent` with AGENT_IDLE_SECONDS=%.0f AGENT_HEALTH_SECONDS=%.0f; agent %s, built `%s`; "+
		"load average %s before, %s after; %s in all.\n\n",
		f.idle.Seconds(), f.health.Seconds(), f.agentVersion, f.build, f.loadFrom, f.loadTo, f.wall.Round(time.Second))
	b.WriteString("| | sonde-agent | | | target |\n|---|---|---|---|---|\n")
	row := func(cells ...string) { fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | ")) }
	w := f.idleWin
	row(fmt.Sprintf("CPU idle at the default health interval (`sonde-agent run`, 60 s), over %s", w.took.Round(time.Second)),
		fmt.Sprintf("%s = %s of a core (%d health samples)", ms2(w.cpu), core(w.cpu, w.took), w.samples), "", "", "≤ 0.05 % of a core")
	row(f.healthRow()...)
	b.WriteString(healthMethod)
	return b.String()
}

// healthSample solves the two windows for the CPU of one health sample
// and the idle cost a second without samples; not ok when they cannot be
// solved (no more samples a second in the health window than idle). Tick
// rounding can make either figure slightly negative: it is shown as is.
func (f *agentFigures) healthSample() (perSample, perSecond time.Duration, ok bool) {
	i, h := f.idleWin, f.healthWin
	if i.took <= 0 || h.took <= 0 {
		return 0, 0, false
	}
	scale := h.took.Seconds() / i.took.Seconds()
	den := float64(h.samples) - float64(i.samples)*scale
	if den <= 0 {
		return 0, 0, false
	}
	s := (float64(h.cpu) - float64(i.cpu)*scale) / den
	a := (float64(i.cpu) - s*float64(i.samples)) / i.took.Seconds()
	return time.Duration(s), time.Duration(a), true
}

// perRound is v of each round that answered, sorted.
func perRound(rounds []round, v func(round) time.Duration) []time.Duration {
	var answered []round
	for _, r := range rounds {
		if len(r.took) > 0 {
			answered = append(answered, r)
		}
	}
	return durations(answered, v)
}

// medianRange is "median [min–max]" of sorted, in ms.
func medianRange(sorted []time.Duration) string {
	if len(sorted) == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%s [%.2f–%.2f]", ms2(quantile(sorted, 0.5)), float64(sorted[0])/1e6, float64(sorted[len(sorted)-1])/1e6)
}

// ratio is the ratio of the medians of two sorted lists.
func ratio(a, b []time.Duration) string {
	if len(a) == 0 || len(b) == 0 || quantile(b, 0.5) <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("**%.2f**", float64(quantile(a, 0.5))/float64(quantile(b, 0.5)))
}

func wallSpread(rounds []round) string {
	var all []time.Duration
	for _, r := range rounds {
		all = append(all, r.took...)
	}
	return fmt.Sprintf("%s (n=%d)", spread(all, func(d time.Duration) time.Duration { return d }), len(all))
}

func mem(m memory) string {
	return fmt.Sprintf("%s (%s, %s)", mb(float64(m.rss)), mb(float64(m.anon)), mb(float64(m.file)))
}

func rssRatio(a, b memory) string {
	if b.rss == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", float64(a.rss)/float64(b.rss))
}

// core is cpu over took as a percentage of one core.
func core(cpu, took time.Duration) string {
	if took <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.3f %%", 100*cpu.Seconds()/took.Seconds())
}

// ms2 is ms with two decimals, for CPU figures a tick divided many ways.
func ms2(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }
