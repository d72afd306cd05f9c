package findings

import (
	"fmt"
	"net"
	"time"
)

func init() {
	register("collector", []string{"dns.failing", "collector.intercepted", "collector.unreachable", "collector.high-latency"}, analyzeCollector)
}

// reachability is the network probe's check of the collector: resolving
// its name (absent when the address is an IP), then the connection the
// agent holds (live, absent when it holds none, and in snapshots from
// agents before it was reported) or a fresh handshake (absent when the
// live connection was reported alone), or both.
type reachability struct {
	Addr    string `json:"addr"`
	Resolve *struct {
		Error string `json:"error"`
	} `json:"resolve"`
	Handshake struct {
		DurationMS float64 `json:"duration_ms"`
		Error      string  `json:"error"`
	} `json:"handshake"`
	Live *struct {
		Transport string  `json:"transport"`
		RTTMS     float64 `json:"rtt_ms"`
	} `json:"live"`
	Intercepted *struct {
		Issuer    string `json:"issuer"`
		Root      string `json:"root"`
		NamesHost bool   `json:"names_host"`
	} `json:"intercepted"`
	OK bool `json:"ok"`
}

// noHandshake is the probe's handshake error when it had no way to try
// one: not a sign of anything wrong with the network.
const noHandshake = "no handshake available"

func analyzeCollector(in *input) []Finding {
	var d networkData
	if !probe(in.doc, "network", &d) || d.Collector == nil {
		return nil
	}
	c := d.Collector
	addr := clip(c.Addr)
	host := addr
	if h, _, err := net.SplitHostPort(c.Addr); err == nil {
		host = clip(h)
	}
	switch {
	case c.Resolve != nil && c.Resolve.Error != "":
		return []Finding{{
			ID: "dns.failing", Severity: Warning, Subject: host,
			Title:    fmt.Sprintf("Name lookup failed for %s, the support server", host),
			Evidence: map[string]any{"collector": addr, "error": clip(c.Resolve.Error)},
		}}
	case !c.OK && c.Intercepted != nil:
		in := c.Intercepted
		ev := map[string]any{"collector": addr, "issuer": clip(in.Issuer), "certificate_names_collector": in.NamesHost}
		if in.Root != "" {
			ev["root"] = clip(in.Root)
		}
		return []Finding{{
			ID: "collector.intercepted", Severity: Warning, Subject: addr,
			Title:    fmt.Sprintf("A TLS-inspecting proxy (issuer: %s) is intercepting connections to the support server %s", clip(in.Issuer), addr),
			Evidence: ev,
		}}
	case !c.OK && c.Handshake.Error != "" && c.Handshake.Error != noHandshake:
		f := Finding{
			ID: "collector.unreachable", Severity: Warning, Subject: addr,
			Title:    fmt.Sprintf("The support server %s cannot be reached", addr),
			Evidence: map[string]any{"collector": addr, "error": clip(c.Handshake.Error)},
		}
		if c.Live != nil {
			// The check was asked for while the agent's connection held.
			f.Title = fmt.Sprintf("New connections to the support server %s fail; the agent's current one still works", addr)
			f.Evidence["live_transport"] = clip(c.Live.Transport)
		}
		return []Finding{f}
	case c.OK && c.Handshake.DurationMS >= float64(CollectorSlowHandshake/time.Millisecond):
		return []Finding{{
			ID: "collector.high-latency", Severity: Info, Subject: addr,
			Title:    fmt.Sprintf("The connection to the support server %s is slow: %.0f ms to connect", addr, c.Handshake.DurationMS),
			Evidence: map[string]any{"collector": addr, "handshake_ms": c.Handshake.DurationMS},
		}}
	case c.OK && c.Live != nil && c.Live.RTTMS >= float64(CollectorSlowRTT/time.Millisecond):
		return []Finding{{
			ID: "collector.high-latency", Severity: Info, Subject: addr,
			Title:    fmt.Sprintf("The connection to the support server %s is slow: %.0f ms round trip", addr, c.Live.RTTMS),
			Evidence: map[string]any{"collector": addr, "rtt_ms": c.Live.RTTMS, "transport": clip(c.Live.Transport)},
		}}
	}
	return nil
}
