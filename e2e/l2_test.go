package e2e

import (
	"archive/zip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestL2Workflow is an engineer's day with the real binaries: open a
// ticket, pull a bundle from a connected machine, verify it, see a flipped
// byte fail; bring in a snapshot taken offline on a machine with a full
// disk and a failed service and find both in its bundle's report; walk the
// ticket's life-cycle, refused moves included.
func TestL2Workflow(t *testing.T) {
	s := startSonde(t)
	dir := t.TempDir()
	sonde := func(args ...string) string { t.Helper(); return mustRun(t, s.env, "sonde", args...) }

	if out := sonde("ticket", "open", "--ref", "INC-4711", "--title", "VPN drops every hour", "--agent", s.host); !strings.Contains(out, "INC-4711") {
		t.Fatalf("ticket open: %s", out)
	}
	file := filepath.Join(dir, "inc-4711.zip")
	sonde("bundle", s.host, "--ticket", "INC-4711", "-o", file)
	if out := sonde("bundle", "verify", file); !strings.Contains(out, "OK") {
		t.Fatalf("bundle verify: %s", out)
	}
	// The person at the keyboard can see what was taken, and for what.
	if out := mustRun(t, nil, "sonde-agent", "receipts", "--state", s.state); !strings.Contains(out, "INC-4711") || !strings.Contains(out, "periodic") {
		t.Errorf("sonde-agent receipts:\n%s", out)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x20
	bad := filepath.Join(dir, "tampered.zip")
	os.WriteFile(bad, b, 0o600)
	if _, err := run(t, s.env, "sonde", "bundle", "verify", bad); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("a tampered bundle: %v", err)
	}
	var tv struct {
		Bundles []struct {
			ID    int64 `json:"id"`
			Fresh bool  `json:"fresh"`
		} `json:"bundles"`
		Events []struct {
			Kind string `json:"kind"`
		} `json:"events"`
	}
	json.Unmarshal([]byte(sonde("ticket", "show", "INC-4711", "--json")), &tv)
	if len(tv.Bundles) != 1 || !tv.Bundles[0].Fresh {
		t.Fatalf("ticket bundles: %+v", tv.Bundles)
	}

	// A snapshot taken offline, of a machine with a full disk and a failed
	// service, filed under a ticket; the machine is offline, so its bundle
	// is built from the stored snapshot and says so.
	sonde("ticket", "open", "--ref", "INC-4712", "--title", "printing fails, disk full?")
	var imp struct {
		SnapshotID int64  `json:"snapshot_id"`
		AgentID    string `json:"agent_id"`
	}
	fixture := "../findings/testdata/full-disk-failed-service/snapshot.json"
	json.Unmarshal([]byte(sonde("import", fixture, "--ticket", "INC-4712", "--json")), &imp)
	if imp.SnapshotID == 0 {
		t.Fatal("import returned no snapshot")
	}
	if out := sonde("import", fixture, "--ticket", "INC-4712"); !strings.Contains(out, "imported before") {
		t.Fatalf("a second import of the same file: %s", out)
	}
	file2 := filepath.Join(dir, "inc-4712.zip")
	sonde("bundle", imp.AgentID, "--ticket", "INC-4712", "-o", file2)
	sonde("bundle", "verify", file2)
	report := zipFile(t, file2, "report.txt")
	for _, want := range []string{"disk.almost-full", "service.failed", "built from the latest stored snapshot"} {
		if !strings.Contains(report, want) {
			t.Errorf("report.txt lacks %q:\n%s", want, report)
		}
	}
	if html := zipFile(t, file2, "report.html"); !strings.Contains(html, "disk.almost-full") {
		t.Error("report.html lacks the disk finding")
	}

	// The ticket lists the machine as an asset, its findings with the
	// knowledge base's fixes; once resolved, a new ticket on the same
	// machine points back to it as a similar case.
	var detail struct {
		Assets []struct {
			AgentID string `json:"agent_id"`
		} `json:"assets"`
		Findings []struct {
			ID string `json:"id"`
			KB *struct {
				Steps []string `json:"steps"`
			} `json:"kb"`
		} `json:"findings"`
		Similar []struct {
			Ref string `json:"ref"`
		} `json:"similar"`
	}
	json.Unmarshal([]byte(sonde("ticket", "show", "INC-4712", "--json")), &detail)
	if len(detail.Assets) != 1 || detail.Assets[0].AgentID != imp.AgentID {
		t.Errorf("INC-4712 assets: %+v", detail.Assets)
	}
	var ids []string
	for _, f := range detail.Findings {
		ids = append(ids, f.ID)
		if f.KB == nil || len(f.KB.Steps) == 0 {
			t.Errorf("finding %s has no knowledge-base fix", f.ID)
		}
	}
	if !strings.Contains(strings.Join(ids, ","), "disk.almost-full") {
		t.Errorf("INC-4712 findings: %v", ids)
	}
	sonde("ticket", "resolve", "INC-4712", "--note", "cleared /var/log")
	sonde("ticket", "open", "--ref", "INC-4800", "--title", "disk full again", "--agent", imp.AgentID)
	json.Unmarshal([]byte(sonde("ticket", "show", "INC-4800", "--json")), &detail)
	if len(detail.Similar) != 1 || detail.Similar[0].Ref != "INC-4712" {
		t.Errorf("INC-4800 similar tickets: %+v", detail.Similar)
	}

	// Garbage is refused as an import.
	junk := filepath.Join(dir, "junk.json")
	os.WriteFile(junk, []byte(`{"kind":"full","captured_at":"2026-01-01T00:00:00Z","probes":[{"name":"../../x","duration_ms":1}]}`), 0o600)
	if _, err := run(t, s.env, "sonde", "import", junk, "--ticket", "INC-4712", "--agent", s.agentID); err == nil || !strings.Contains(err.Error(), "not valid") {
		t.Fatalf("importing a bad document: %v", err)
	}

	// Life-cycle: moves that make no sense get clear errors.
	sonde("ticket", "assign", "INC-4711", "alice")
	sonde("ticket", "note", "INC-4711", "tried: restarted the VPN client, no change")
	pkg := filepath.Join(dir, "handover.zip")
	sonde("ticket", "escalate", "INC-4711", "--to", "l3", "--note", "needs a kernel person", "-o", pkg)
	sonde("bundle", "verify", pkg)
	timeline := zipFile(t, pkg, "timeline.txt")
	for _, want := range []string{"restarted the VPN client", "escalated it L2 → L3"} {
		if !strings.Contains(timeline, want) {
			t.Errorf("handover timeline lacks %q:\n%s", want, timeline)
		}
	}
	zipFile(t, pkg, "snapshot.json")
	zipFile(t, pkg, "findings.json")
	// At L3 the ticket is L3's to work: L2 may not resolve it.
	if _, err := run(t, s.env, "sonde", "ticket", "resolve", "INC-4711"); err == nil || !strings.Contains(err.Error(), "ticket INC-4711 is at L3") {
		t.Errorf("L2 resolving an L3 ticket: %v", err)
	}
	l3 := []string{"SONDE_URL=" + s.base, "SONDE_TOKEN=" + firstLine(mustRun(t, nil, "sonde-collector", "apikey", "create", "kernel-team", "--role", "l3", "--data", s.data))}
	sonde = func(args ...string) string { t.Helper(); return mustRun(t, l3, "sonde", args...) }
	sonde("ticket", "resolve", "INC-4711", "--note", "driver rolled back")
	sonde("ticket", "close", "INC-4711")
	for _, c := range [][]string{
		{"ticket", "close", "INC-4711"},
		{"ticket", "escalate", "INC-4711", "--to", "l3"},
		{"ticket", "resolve", "INC-4711"},
	} {
		if _, err := run(t, l3, "sonde", c...); err == nil || !strings.Contains(err.Error(), "reopen it first") {
			t.Errorf("sonde %s: %v", strings.Join(c, " "), err)
		}
	}
	sonde("ticket", "reopen", "INC-4711")
	if out := sonde("ticket", "list", "--status", "in_progress"); !strings.Contains(out, "INC-4711") {
		t.Errorf("ticket list after reopen:\n%s", out)
	}

	// What changed between two snapshots of the connected machine.
	sonde("snapshot", s.host)
	if out := sonde("diff", s.host); !strings.Contains(out, "changes from snapshot") {
		t.Errorf("sonde diff:\n%s", out)
	}
}

func zipFile(t *testing.T, path, name string) string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.Name == name {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			b, _ := io.ReadAll(rc)
			return string(b)
		}
	}
	t.Fatalf("%s has no %s", path, name)
	return ""
}
