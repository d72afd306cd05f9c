package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/e2e/harness"
)

const (
	rulesFile     = "../installers/monitoring/prometheus-rules.yml"
	dashboardFile = "../installers/monitoring/grafana-dashboard.json"
)

// startSystem starts a binary from PATH; a missing binary fails the test.
func startSystem(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed for this test (apt-get install prometheus): %v", name, err)
	}
	return startPath(t, path, args...)
}

// promQuery runs an instant query; it returns the result and any error
// Prometheus reports.
func promQuery(base, query string) ([]struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}, error) {
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", query, r.Error)
	}
	return r.Data.Result, nil
}

// TestPrometheus has the real Prometheus scrape a collector, with the
// shipped alerting rules loaded and the dashboard's queries run.
func TestPrometheus(t *testing.T) {
	s := startSonde(t)

	req, _ := http.NewRequest("GET", s.base+"/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Errorf("scrape asking for OpenMetrics got Content-Type %q", ct)
	}

	rules, err := filepath.Abs(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: sonde
    static_configs:
      - targets: [%q]
`, rules, strings.TrimPrefix(s.base, "http://"))
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	promAddr := harness.FreeAddr(t)
	prom := "http://" + promAddr
	startSystem(t, "prometheus", "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+promAddr)

	has := func(query string) bool {
		r, err := promQuery(prom, query)
		return err == nil && len(r) > 0
	}
	waitFor(t, `up{job="sonde"} == 1`, 60*time.Second, func() bool { return has(`up{job="sonde"} == 1`) })
	waitFor(t, "sonde_build_info", 10*time.Second, func() bool { return has(`sonde_build_info{job="sonde"} == 1`) })
	waitFor(t, "the online agent in sonde_agents", 30*time.Second, func() bool {
		return has(`sonde_agents{job="sonde",state="online"} == 1`)
	})
	for _, q := range []string{`sonde_store_size_bytes > 0`, `sonde_store_errors_total == 0`, `sonde_ticket_resolution_seconds_count`} {
		if !has(q) {
			t.Errorf("no result for %s", q)
		}
	}

	// The shipped rules load and evaluate without error.
	waitFor(t, "the rules to evaluate", 20*time.Second, func() bool {
		resp, err := http.Get(prom + "/api/v1/rules")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Groups []struct {
					Rules []struct {
						Name   string `json:"name"`
						Health string `json:"health"`
						Error  string `json:"lastError"`
					} `json:"rules"`
				} `json:"groups"`
			} `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil || len(r.Data.Groups) == 0 {
			return false
		}
		for _, g := range r.Data.Groups {
			for _, rule := range g.Rules {
				if rule.Health != "ok" {
					if rule.Health == "err" {
						t.Fatalf("rule %s: %s", rule.Name, rule.Error)
					}
					return false
				}
			}
		}
		return true
	})

	// Every dashboard query is valid PromQL against the real server.
	for _, q := range dashboardQueries(t) {
		if _, err := promQuery(prom, strings.ReplaceAll(q, "$instance", ".*")); err != nil {
			t.Errorf("dashboard: %v", err)
		}
	}
}

// dashboardQueries reads the shipped Grafana dashboard and returns the
// expressions of its panels.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.Title == "" || d.UID == "" {
		t.Errorf("dashboard without title or uid")
	}
	var exprs []string
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if !strings.Contains(tg.Expr, "sonde_") && !strings.Contains(tg.Expr, "up{") {
				t.Errorf("panel %q queries %q, not a Sonde metric", p.Title, tg.Expr)
			}
			exprs = append(exprs, tg.Expr)
		}
	}
	if len(exprs) < 10 {
		t.Errorf("dashboard has %d queries, want fleet and KPI panels", len(exprs))
	}
	return exprs
}

// TestMonitoringExamples checks the shipped rules with promtool and the
// dashboard's shape.
func TestMonitoringExamples(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is needed for this test (apt-get install prometheus): %v", err)
	}
	out, err := exec.Command(promtool, "check", "rules", rulesFile).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "SUCCESS") {
		t.Errorf("promtool check rules: %s", out)
	}
	dashboardQueries(t)
}
