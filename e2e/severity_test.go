package e2e

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"testing"
)

// TestSeverityOnEveryPath: a finding's severity is one function of the
// data, whichever path the data took: the agent's own check, the live
// agent's snapshot on the collector, and the same machine's snapshot
// written to a file and imported rate every finding they share alike.
func TestSeverityOnEveryPath(t *testing.T) {
	s := startSonde(t)
	mustRun(t, s.env, "sonde", "snapshot", s.agentID)
	file := filepath.Join(t.TempDir(), "snapshot.json")
	mustRun(t, nil, "sonde-agent", "snapshot", "--state", s.state, "-o", file)
	mustRun(t, s.env, "sonde", "ticket", "open", "--ref", "SEV-1", "--title", "severities")
	mustRun(t, s.env, "sonde", "import", file, "--ticket", "SEV-1")

	type finding struct {
		ID       string `json:"id"`
		Severity string `json:"severity"`
	}
	var live struct {
		Machine struct {
			Findings []finding `json:"findings"`
		} `json:"machine"`
	}
	api(t, "GET", s.base+"/api/v1/agents/"+s.agentID, s.key, nil, &live)
	var imported struct {
		Findings []finding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, s.env, "sonde", "ticket", "show", "SEV-1", "--json")), &imported); err != nil {
		t.Fatal(err)
	}
	checked := map[string]string{}
	label := map[string]string{"urgent": "critical", "important": "warning", "for your information": "info"}
	out := mustRun(t, nil, "sonde-agent", "check", "--state", s.state)
	for _, m := range regexp.MustCompile(`(?s)\((urgent|important|for your\s+information)\)\n.*?Reference for your IT support: (\S+)`).FindAllStringSubmatch(out, -1) {
		checked[m[2]] = label[regexp.MustCompile(`\s+`).ReplaceAllString(m[1], " ")]
	}
	paths := map[string]map[string]string{"check": checked, "live": {}, "imported": {}}
	for _, f := range live.Machine.Findings {
		paths["live"][f.ID] = f.Severity
	}
	for _, f := range imported.Findings {
		paths["imported"][f.ID] = f.Severity
	}
	shared := 0
	for id, sev := range paths["live"] {
		for name, p := range paths {
			if other, ok := p[id]; ok && other != sev {
				t.Errorf("%s is %s live but %s on the %s path", id, sev, other, name)
			}
		}
		if _, ok := paths["imported"][id]; ok {
			shared++
		}
	}
	if shared == 0 || len(checked) == 0 {
		t.Fatalf("nothing to compare: live %v, imported %v, check %v\n%s", paths["live"], paths["imported"], checked, out)
	}
}
