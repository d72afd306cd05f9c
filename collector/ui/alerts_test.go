package ui_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/alert"
)

// TestAlertsPages shows a firing alert, escaped, on the fleet's alerts
// page and on its agent's page, with the silence that mutes it.
func TestAlertsPages(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	putFixture(t, e.st, "ag1")
	now := time.Now().UTC()
	a := alert.Alert{Fingerprint: "00aa11bb22cc33dd", Rule: "DiskAlmostFull", AgentID: "ag1", State: alert.Firing,
		Severity: "critical", ActiveAt: now, StartsAt: now,
		Labels:      map[string]string{"alertname": "DiskAlmostFull", "agent_id": "ag1", "hostname": "pc1", "mountpoint": "/"},
		Annotations: map[string]string{"summary": "Disk <b>/</b> is full"}}
	if err := e.st.SaveAlertState(ctx, []alert.Alert{a}); err != nil {
		t.Fatal(err)
	}
	s := alert.Silence{ID: "s1", Matchers: []alert.Matcher{{Name: "hostname", Value: "pc1"}}, StartsAt: now.Add(-time.Minute), EndsAt: now.Add(time.Hour), CreatedBy: "me"}
	if err := e.st.PutSilence(ctx, s); err != nil {
		t.Fatal(err)
	}
	c := e.login(t, "l2")
	_, page := e.get(t, c, "/alerts")
	for _, want := range []string{"DiskAlmostFull", "Disk &lt;b&gt;/&lt;/b&gt; is full", `href="/agents/ag1"`, "hostname=pc1", ">s1<"} {
		if !strings.Contains(page, want) {
			t.Errorf("/alerts lacks %q:\n%s", want, page)
		}
	}
	_, page = e.get(t, c, "/agents/ag1")
	if !strings.Contains(page, `id="agent-alerts"`) || !strings.Contains(page, "DiskAlmostFull") {
		t.Errorf("the agent page lacks its firing alert:\n%s", page)
	}
}
