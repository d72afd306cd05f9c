package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/e2e/harness"
)

// alertmanagerBin is Debian's prometheus-alertmanager.
const alertmanagerBin = "/usr/bin/prometheus-alertmanager"

const alertRules = `rules:
  - name: DiskAlmostFull
    expr: disk.used_ratio > 0.9
    for: 0s
    keep_firing_for: 0s
    severity: critical
    summary: 'Disk {{ .Labels.mountpoint }} on {{ .Labels.hostname }} is full'
    ticket: true
`

// startAlertmanager runs a real Alertmanager on loopback with a null
// receiver and returns its base URL.
func startAlertmanager(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(alertmanagerBin); err != nil {
		t.Fatalf("%s is missing (apt-get install prometheus-alertmanager): %v", alertmanagerBin, err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	os.WriteFile(cfg, []byte("route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n"), 0o600)
	addr := harness.FreeAddr(t)
	cmd := exec.Command(alertmanagerBin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	out := &proc{cmd: cmd}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager output:\n%s", out.Output())
		}
	})
	base := "http://" + addr
	waitFor(t, "alertmanager to be ready", 20*time.Second, func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return base
}

type amAlert struct {
	Labels map[string]string `json:"labels"`
	EndsAt time.Time         `json:"endsAt"`
	Status struct {
		State string `json:"state"`
	} `json:"status"`
}

// activeDiskAlerts returns the DiskAlmostFull alerts Alertmanager holds
// as active for host.
func activeDiskAlerts(t *testing.T, am, host string) []amAlert {
	t.Helper()
	var list, out []amAlert
	api(t, "GET", am+"/api/v2/alerts?active=true", "", nil, &list)
	for _, a := range list {
		if a.Labels["alertname"] == "DiskAlmostFull" && a.Labels["hostname"] == host && a.EndsAt.After(time.Now()) {
			out = append(out, a)
		}
	}
	return out
}

// healthDoc writes a copy of the health fixture for machine host, with
// the root file system used at ratio, as kind, sequence seq, captured at.
func healthDoc(t *testing.T, dir, host, kind string, seq int, ratio float64, at time.Time) string {
	t.Helper()
	raw, err := os.ReadFile("../findings/testdata/health/snapshot.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc, "agent_id")
	doc["kind"], doc["seq"], doc["captured_at"] = kind, seq, at.UTC().Format(time.RFC3339Nano)
	facts := doc["facts"].(map[string]any)
	facts["hostname"], facts["host_id"] = host, "e2e-alerts-"+host
	for _, p := range doc["probes"].([]any) {
		if p := p.(map[string]any); p["name"] == "disk" {
			p["data"].(map[string]any)["mounts"].([]any)[0].(map[string]any)["used_ratio"] = ratio
		}
	}
	b, _ := json.Marshal(doc)
	name := filepath.Join(dir, fmt.Sprintf("%s-%d.json", host, seq))
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// waitEvaluations waits until the collector has run n more alert
// evaluation rounds, as its /metrics count them.
func (s *sonde) waitEvaluations(t *testing.T, n int) {
	t.Helper()
	rounds := func() int {
		resp, err := http.Get(s.base + "/metrics")
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, `sonde_alert_evaluations_total{result="ok"} `); ok {
				f, _ := strconv.ParseFloat(v, 64)
				return int(f)
			}
		}
		return -1
	}
	start := rounds()
	waitFor(t, fmt.Sprintf("%d more alert evaluations", n), 30*time.Second, func() bool { return start >= 0 && rounds() >= start+n })
}

// TestProactiveAlerts fills a fixture machine's disk: the collector sends
// the alert to a real Alertmanager, opens one proactive ticket with one
// bundle however many evaluations run, resolves the alert in Alertmanager
// when the disk empties, and keeps running on its rules when a bad rule
// file appears.
func TestProactiveAlerts(t *testing.T) {
	am := startAlertmanager(t)
	data, dir := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(data, "rules"), 0o700)
	os.WriteFile(filepath.Join(data, "rules", "test.yaml"), []byte(alertRules), 0o600)
	httpAddr := harness.FreeAddr(t)
	s := &sonde{data: data, base: "http://" + httpAddr}
	s.serveArgs = []string{"serve", "--data", data, "--quic", harness.FreeAddr(t), "--http", httpAddr,
		"--alert-interval", "1s", "--alertmanager", am}
	s.startCollector(t)
	key := firstLine(mustRun(t, nil, "sonde-collector", "apikey", "create", "e2e", "--role", "l2", "--data", data))
	env := []string{"SONDE_URL=" + s.base, "SONDE_TOKEN=" + key}
	sonde := func(args ...string) string { t.Helper(); return mustRun(t, env, "sonde", args...) }

	host := "pc-alerts-1"
	t0 := time.Now().Add(-time.Hour)
	sonde("ticket", "open", "--ref", "FIXTURES", "--title", "fixture machines")
	var imp struct {
		AgentID string `json:"agent_id"`
	}
	json.Unmarshal([]byte(sonde("import", healthDoc(t, dir, host, "full", 1, 0.5, t0), "--ticket", "FIXTURES", "--json")), &imp)
	sonde("import", healthDoc(t, dir, host, "health", 2, 0.97, t0.Add(time.Minute)), "--ticket", "FIXTURES")

	waitFor(t, "the alert in Alertmanager", 20*time.Second, func() bool { return len(activeDiskAlerts(t, am, host)) == 1 })
	if out := sonde("alerts"); !strings.Contains(out, "DiskAlmostFull") || !strings.Contains(out, host) {
		t.Errorf("sonde alerts:\n%s", out)
	}

	type ticketView struct {
		Ref     string `json:"ref"`
		Bundles []struct {
			ID int64 `json:"id"`
		} `json:"bundles"`
	}
	proactive := func() []ticketView {
		var list []ticketView
		api(t, "GET", s.base+"/api/v1/tickets?agent="+imp.AgentID, key, nil, &list)
		var out []ticketView
		for _, tk := range list {
			if strings.HasPrefix(tk.Ref, "ALERT-") {
				var v ticketView
				api(t, "GET", s.base+"/api/v1/tickets/"+tk.Ref, key, nil, &v)
				out = append(out, v)
			}
		}
		return out
	}
	waitFor(t, "the proactive ticket's bundle", 20*time.Second, func() bool {
		tks := proactive()
		return len(tks) == 1 && len(tks[0].Bundles) == 1
	})
	s.waitEvaluations(t, 3) // several more evaluations while firing

	// A silence mutes it without changing its state.
	var sil struct {
		ID string `json:"id"`
	}
	json.Unmarshal([]byte(sonde("silence", "add", "--match", "alertname=DiskAlmostFull,hostname="+host, "--for", "2h", "--comment", "disk swap", "--json")), &sil)
	if out := sonde("silence", "list"); sil.ID == "" || !strings.Contains(out, sil.ID) {
		t.Fatalf("silence list: %s", out)
	}
	var current []struct {
		State    string   `json:"state"`
		Rule     string   `json:"rule"`
		Silenced []string `json:"silenced"`
	}
	json.Unmarshal([]byte(sonde("alerts", "--json")), &current)
	silenced := false
	for _, a := range current {
		silenced = silenced || (a.Rule == "DiskAlmostFull" && a.State == "firing" && len(a.Silenced) == 1 && a.Silenced[0] == sil.ID)
	}
	if !silenced {
		t.Errorf("sonde alerts --json, silenced: %+v", current)
	}
	sonde("silence", "expire", sil.ID)

	// The disk empties: the alert resolves in Alertmanager.
	sonde("import", healthDoc(t, dir, host, "health", 3, 0.5, t0.Add(2*time.Minute)), "--ticket", "FIXTURES")
	waitFor(t, "the alert to resolve in Alertmanager", 20*time.Second, func() bool { return len(activeDiskAlerts(t, am, host)) == 0 })
	s.waitEvaluations(t, 2)
	if tks := proactive(); len(tks) != 1 || len(tks[0].Bundles) != 1 {
		t.Fatalf("proactive tickets after resolution: %+v", tks)
	}

	// A bad rule file is refused with its file and line; the collector
	// keeps running on the rules in force.
	os.WriteFile(filepath.Join(data, "rules", "bad.yaml"), []byte("rules:\n  - name: Broken\n    expr: disk.used_ratio > 0.5\n    colour: red\n"), 0o600)
	waitFor(t, "the bad rule file in the log", 10*time.Second, func() bool {
		return strings.Contains(s.collector.Output(), "bad.yaml:4")
	})
	if code := api(t, "GET", s.base+"/readyz", "", nil, nil); code != 200 {
		t.Errorf("readyz after a bad rule file: %d", code)
	}
	if out := sonde("alerts", "--json"); !strings.HasPrefix(strings.TrimSpace(out), "[") {
		t.Errorf("sonde alerts --json after a bad rule file: %s", out)
	}
}
