package api

import (
	"testing"

	"github.com/sondehq/sonde/collector/bundle"
	"github.com/sondehq/sonde/findings"
)

func finding(id string, sev findings.Severity, subject string) AgentFinding {
	return AgentFinding{Ranked: bundle.Ranked{Finding: findings.Finding{ID: id, Severity: sev, Subject: subject}}}
}

// TestLeadingNeverInfoAlone: information (a clock not synced, a reboot
// pending) is on most machines and makes no ticket similar to another.
func TestLeadingNeverInfoAlone(t *testing.T) {
	info := []AgentFinding{finding("time.not-synced", findings.Info, ""), finding("system.reboot-pending", findings.Info, "")}
	if got := leading(info, nil); len(got) != 0 {
		t.Errorf("leading of info findings: %+v", got)
	}
	if got := leading(nil, info); len(got) != 0 {
		t.Errorf("leading of info findings now: %+v", got)
	}
	disk := finding("disk.almost-full", findings.Critical, "/")
	if got := leading(append(info, disk), nil); len(got) != 1 || got[0].ID != "disk.almost-full" {
		t.Errorf("leading: %+v", got)
	}
	// Evidence leads; the state now counts only without evidence.
	if got := leading([]AgentFinding{disk}, []AgentFinding{finding("memory.pressure", findings.Critical, "")}); len(got) != 1 || got[0].ID != "disk.almost-full" {
		t.Errorf("leading with evidence: %+v", got)
	}
}

// TestScore: a shared finding weighs by severity and rank, more on the
// same subject; sharing nothing scores nothing.
func TestScore(t *testing.T) {
	lead := []AgentFinding{finding("disk.almost-full", findings.Critical, "/"), finding("service.failed", findings.Warning, "cups.service")}
	r := func(id, subject string) bundle.Ranked {
		return bundle.Ranked{Finding: findings.Finding{ID: id, Subject: subject}}
	}
	same := score(lead, []bundle.Ranked{r("disk.almost-full", "/")})
	other := score(lead, []bundle.Ranked{r("disk.almost-full", "/home")})
	second := score(lead, []bundle.Ranked{r("service.failed", "cups.service")})
	none := score(lead, []bundle.Ranked{r("time.not-synced", "")})
	if !(same.Score > other.Score && other.Score > second.Score && second.Score > 0 && none.Score == 0) {
		t.Errorf("scores: same subject %d, other subject %d, second finding %d, nothing shared %d", same.Score, other.Score, second.Score, none.Score)
	}
	if len(none.Why) != 0 || len(same.Why) != 1 || same.Why[0] != "disk.almost-full on / (critical)" {
		t.Errorf("why: %q, %q", same.Why, none.Why)
	}
}
