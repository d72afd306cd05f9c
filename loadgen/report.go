package loadgen

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Print writes the report for people.
func (r *Report) Print(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("agents                 %d over %d UDP sockets (%d enrolled in this run, %s)", r.Agents, r.Sockets, r.Enrolled, r.EnrollTime.Round(time.Second))
	p("connect                all %d in %s", r.Agents, r.ConnectTime.Round(time.Millisecond))
	if r.CollectorSees >= 0 {
		p("collector counts       %.0f connected (sonde_agents_connected)", r.CollectorSees)
	}
	p("collector RSS          %.1f MB before, %.1f MB connected: %.1f KB an agent (%.1f KB added an agent)",
		mb(r.RSSBefore), mb(r.RSSConnected), r.RSSPerAgent()/1e3, r.RSSPerAgentAdded()/1e3)
	if r.Runtime != nil {
		r.Runtime.print(w, r.Agents)
	}
	p("collector CPU, idle    %.1f%% of a core with every agent connected", 100*r.CollectorCPUIdle)
	if od := r.OnDemand; od != nil {
		p("on-demand              %d stored; %s; %d rate-limited (429), %d not sent (concurrency)", od.OK, od.Latency, od.RateLimited, od.NotSent)
		for _, c := range od.Failed {
			p("  failed %6d  %s", c.N, c.What)
		}
	}
	if in := r.Ingest; in != nil {
		p("ingest                 %.0f snapshots/s persisted and acked (%d in %s, %d senders, %d B each); %d busy, %d failed; write to ack %s",
			in.Rate, in.Acked, in.Window.Round(time.Millisecond), in.Senders, in.WireSize, in.Busy, in.Failed, in.Latency)
		p("ingest CPU             %s a snapshot in the collector, %s in sonde-loadgen (%d snapshots, %s and %s)", perMsg(in.CollectorCPU, in.Total),
			perMsg(in.LoadgenCPU, in.Total), in.Total, in.CollectorCPU.Round(10*time.Millisecond), in.LoadgenCPU.Round(10*time.Millisecond))
	}
	if raw := r.Raw; raw != nil {
		p("raw QUIC ceiling       %.0f messages/s acked (%d connections); write to ack %s", raw.Rate, raw.Conns, raw.Latency)
		p("raw CPU                %s a message, both ends (%d messages, %s)", perMsg(raw.CPU, raw.Total), raw.Total, raw.CPU.Round(10*time.Millisecond))
		if in := r.Ingest; in != nil && raw.Rate > 0 {
			p("ingest ÷ raw           %.2f", in.Rate/raw.Rate)
			if in.Total > 0 && raw.Total > 0 && raw.CPU > 0 {
				ing := float64(in.CollectorCPU+in.LoadgenCPU) / float64(in.Total)
				p("raw ÷ ingest, CPU      %.2f (a raw message's CPU over a snapshot's, both processes: ingest ÷ raw if CPU alone bound both)",
					float64(raw.CPU)/float64(raw.Total)/ing)
			}
		}
	}
	if st := r.Storm; st != nil {
		extra := ""
		if st.How == "restart" {
			extra = fmt.Sprintf(" (collector ready again after %s)", st.Restarted.Round(time.Millisecond))
		}
		p("reconnect storm        %s of %d: all back in %s%s; half in %s, 90%% in %s, 99%% in %s", st.How, st.Dropped,
			st.Back.Round(time.Millisecond), extra, st.Half.Round(time.Millisecond), st.Most.Round(time.Millisecond), st.Nearly.Round(time.Millisecond))
	}
	p("health snapshots       %d acked, %d skipped (one already in flight), %d busy answers", r.HealthAcked, r.HealthSkipped, r.Busy)
	p("requests answered      %d (%d refused)", r.Answered, r.Refused)
	for _, c := range r.Errors {
		p("  error %6d  %s", c.N, c.What)
	}
	p("took                   %s", r.Took.Round(time.Second))
}

func mb(b int64) float64 { return float64(b) / 1e6 }

// perMsg is CPU time d over n messages, in microseconds.
func perMsg(d time.Duration, n int64) string {
	if n <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f µs", float64(d.Microseconds())/float64(n))
}

// Target is one of the bench's targets and where it stands.
type Target struct {
	What, Measured string
	Met            bool
}

// Targets compares the bench's figures with the targets of the collector
// at scale (BENCHMARKS.md).
func (b *BenchResult) Targets() []Target {
	var out []Target
	if l := b.Large; l != nil {
		out = append(out, Target{fmt.Sprintf("collector RSS per agent at %d ≤ 120 KB", l.Agents),
			fmt.Sprintf("%.1f KB (%.1f KB added an agent)", l.RSSPerAgent()/1e3, l.RSSPerAgentAdded()/1e3), l.RSSPerAgent() <= 120e3})
		if st := l.Storm; st != nil {
			out = append(out, Target{fmt.Sprintf("reconnect storm: all %d back ≤ 20 s", st.Dropped),
				fmt.Sprintf("%s after the restart began (collector ready after %s; 90%% back in %s, 99%% in %s)", st.Back.Round(100*time.Millisecond),
					st.Restarted.Round(100*time.Millisecond), st.Most.Round(100*time.Millisecond), st.Nearly.Round(100*time.Millisecond)),
				st.AllBack && st.Back <= 20*time.Second})
		}
	}
	if s := b.Small; s != nil {
		if s.Ingest != nil && s.Raw != nil && s.Raw.Rate > 0 {
			ratio := s.Ingest.Rate / s.Raw.Rate
			out = append(out, Target{"ingest ≥ 0.5 × raw QUIC", fmt.Sprintf("%.0f/s ÷ %.0f/s = %.2f", s.Ingest.Rate, s.Raw.Rate, ratio), ratio >= 0.5})
		}
		if od := s.OnDemand; od != nil && od.OK > 0 {
			out = append(out,
				Target{fmt.Sprintf("on-demand p50 ≤ 50 ms with %d connected", s.Agents), ms(od.Latency.P50), od.Latency.P50 <= 50*time.Millisecond},
				Target{fmt.Sprintf("on-demand p99 ≤ 200 ms with %d connected", s.Agents), ms(od.Latency.P99), od.Latency.P99 <= 200*time.Millisecond})
		}
	}
	return out
}

// Print writes both scenarios and the targets table (Markdown).
func (b *BenchResult) Print(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	set := "NOT set: quic-go gets smaller UDP buffers than it asks for (see installers/linux/README.md)"
	if b.BuffersSet {
		set = "set"
	}
	p("machine: %d CPUs; load average %s before, %s after", b.CPUs, b.LoadBefore, b.LoadAfter)
	p("UDP buffers: net.core.rmem_max=%d wmem_max=%d; quic-go asks for %d: %s", b.RMem, b.WMem, UDPBufferWant, set)
	for _, r := range []*Report{b.Small, b.Large} {
		if r == nil {
			continue
		}
		p("\n== %d agents ==", r.Agents)
		r.Print(w)
	}
	p("\n| target | measured | |\n|---|---|---|")
	for _, t := range b.Targets() {
		verdict := "met"
		if !t.Met {
			verdict = "**missed**"
		}
		p("| %s | %s | %s |", t.What, strings.ReplaceAll(t.Measured, "|", "/"), verdict)
	}
}
