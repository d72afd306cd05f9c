package findings

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
)

func init() {
	register("connectivity", []string{"wifi.weak-signal", "proxy.misconfigured", "proxy.conflicting"}, analyzeConnectivity)
}

// wifiData is what the analyzer reads of the wifi probe.
type wifiData struct {
	Interfaces []struct {
		Name      string   `json:"name"`
		Connected bool     `json:"connected"`
		SSID      string   `json:"ssid"`
		SignalDBM *float64 `json:"signal_dbm"`
		Band      string   `json:"band"`
	} `json:"interfaces"`
}

// proxyData is what the analyzer reads of the proxy probe: each setting
// as the machine holds it, with what the probe found wrong in it.
type proxyData struct {
	Settings []struct {
		Source  string `json:"source"`
		User    string `json:"user"`
		Name    string `json:"name"`
		Kind    string `json:"kind"`
		Enabled bool   `json:"enabled"`
		Host    string `json:"host"`
		Port    int    `json:"port"`
		Problem string `json:"problem"`
	} `json:"settings"`
}

func analyzeConnectivity(in *input) []Finding {
	var out []Finding
	var w wifiData
	if probe(in.doc, "wifi", &w) {
		for _, i := range w.Interfaces {
			if !i.Connected || i.SignalDBM == nil {
				continue
			}
			// A stronger signal is a higher (less negative) figure.
			sev := level(-*i.SignalDBM, -WifiWeakWarning, -WifiWeakCritical)
			if sev == 0 {
				continue
			}
			ev := map[string]any{"signal_dbm": *i.SignalDBM, "ssid": clip(i.SSID)}
			if i.Band != "" {
				ev["band"] = clip(i.Band)
			}
			out = append(out, Finding{ID: "wifi.weak-signal", Severity: sev, Subject: clip(i.Name), Evidence: ev,
				Title: fmt.Sprintf("The Wi-Fi signal is weak: %.0f dBm on %s", *i.SignalDBM, clip(cmp.Or(i.SSID, i.Name)))})
		}
	}
	var p proxyData
	if probe(in.doc, "proxy", &p) {
		// The proxy each kind of traffic goes through, per user, by setting.
		type use struct{ user, kind string }
		targets := map[use][]string{}
		for _, s := range p.Settings {
			if !s.Enabled {
				continue
			}
			name := clip(s.Source) + ": " + clip(s.Name)
			if s.Problem != "" {
				out = append(out, Finding{ID: "proxy.misconfigured", Severity: Warning, Subject: name,
					Title:    fmt.Sprintf("Proxy setting %s %s", name, clip(s.Problem)),
					Evidence: map[string]any{"kind": clip(s.Kind), "problem": clip(s.Problem)}})
				continue
			}
			if s.Host != "" && s.Kind != "bypass" && s.Kind != "pac" {
				u := use{s.User, s.Kind}
				t := fmt.Sprintf("%s:%d", clip(s.Host), s.Port)
				if !slices.Contains(targets[u], t) {
					targets[u] = append(targets[u], t)
				}
			}
		}
		uses := make([]use, 0, len(targets))
		for u := range targets {
			uses = append(uses, u)
		}
		sort.Slice(uses, func(i, j int) bool { // not slices.SortFunc: see findings.Sort
			return uses[i].user+"\x00"+uses[i].kind < uses[j].user+"\x00"+uses[j].kind
		})
		for _, u := range uses {
			if ts := targets[u]; len(ts) > 1 {
				out = append(out, Finding{ID: "proxy.conflicting", Severity: Warning, Subject: clip(u.kind),
					Title:    fmt.Sprintf("Settings disagree on the %s proxy: %s", clip(u.kind), strings.Join(ts, " or ")),
					Evidence: map[string]any{"proxies": ts, "user": clip(u.user)}})
			}
		}
	}
	return out
}
