package ui_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/alert"
	"github.com/sondehq/sonde/collector/api/apitest"
)

// TestAlertsPages shows a firing alert, escaped, on the fleet's alerts
// page and on its agent's page, with the silence that mutes it.
func TestAlertsPages(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	apitest.PutFixture(t, e.st, "ag1")
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

// TestAlertsPageExplains: the alerts page shows a pending alert's summary,
// and under a firing alert whose condition has cleared, why it still
// fires; so does the agent's page, which lists its firing alerts.
func TestAlertsPageExplains(t *testing.T) {
	e := newEnv(t)
	apitest.PutFixture(t, e.st, "ag1")
	apitest.PutAlerts(t, e.st, "ag1", time.Now().UTC())
	c := e.login(t, "l2")
	const held = `<span class="muted keep-firing">condition cleared 1 min ago; clears in 4 min (keep_firing_for 5m)</span>`
	_, page := e.get(t, c, "/alerts")
	for _, want := range []string{"1 firing, 1 pending.", "Disk / on pc1 is 95% full", "reportgen (PID 4242) on pc1 has used 99% of one core for 18m: reportgen --job nightly<br>" + held} {
		if !strings.Contains(page, want) {
			t.Errorf("/alerts lacks %q:\n%s", want, page)
		}
	}
	if _, page = e.get(t, c, "/agents/ag1"); !strings.Contains(page, held) {
		t.Errorf("the agent page does not say why its alert still fires:\n%s", page)
	}
}

// TestSilenceFromUI: an L2 engineer sets a maintenance window from the
// alerts page; an L1 key may not.
func TestSilenceFromUI(t *testing.T) {
	e := newEnv(t)
	l2 := e.login(t, "l2")
	_, page := e.submit(t, l2, "/alerts/silences", url.Values{"matchers": {"hostname=pc9"}, "duration": {"3h"}, "comment": {"disk swap"}})
	if !strings.Contains(page, "Silence ") || !strings.Contains(page, "hostname=pc9") || !strings.Contains(page, "disk swap") {
		t.Fatalf("after adding a silence:\n%s", page)
	}
	_, page = e.submit(t, l2, "/alerts/silences", url.Values{"matchers": {"hostname=pc9"}, "duration": {"forever"}})
	if !strings.Contains(page, "not a positive duration") {
		t.Errorf("a bad duration was not refused clearly:\n%s", page)
	}
	l1 := e.login(t, "l1")
	_, page = e.submit(t, l1, "/alerts/silences", url.Values{"matchers": {"hostname=pc8"}, "duration": {"1h"}})
	if !strings.Contains(page, "needs l2") {
		t.Errorf("an l1 key silenced alerts:\n%s", page)
	}
}
