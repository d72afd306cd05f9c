package e2e

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// TestRevoke: a revoked agent's live connection is gone within a second,
// it cannot come back, and a collector restart does not forget.
func TestRevoke(t *testing.T) {
	s := startSonde(t)
	online := func() bool {
		var agents []agentView
		api(t, "GET", s.base+"/api/v1/agents", s.key, nil, &agents)
		return len(agents) == 1 && agents[0].Online
	}
	mustRun(t, nil, "sonde-collector", "agent", "revoke", s.agentID, "--data", s.data)
	revoked := time.Now()
	waitFor(t, "the revoked agent to be disconnected", 5*time.Second, func() bool { return !online() })
	if took := time.Since(revoked); took > time.Second {
		t.Errorf("the revoked agent stayed connected for %s", took)
	}
	if out := mustRun(t, nil, "sonde-collector", "agent", "list", "--data", s.data); !strings.Contains(out, s.agentID) {
		t.Fatalf("agent list:\n%s", out)
	}
	// The agent keeps retrying (1 s, 2 s, 4 s ...): it must stay out, also
	// across a restart of the collector.
	time.Sleep(3 * time.Second)
	if online() {
		t.Fatal("the revoked agent reconnected")
	}
	s.collector.cmd.Process.Kill()
	s.collector.cmd.Wait()
	s.startCollector(t)
	time.Sleep(4 * time.Second)
	if online() {
		t.Fatal("the revoked agent reconnected after a restart")
	}
	if _, err := run(t, s.env, "sonde", "snapshot", s.agentID); err == nil || !strings.Contains(err.Error(), "offline") {
		t.Fatalf("a snapshot of a revoked agent: %v", err)
	}
}

// TestTokens: tokens are listed, revoked tokens and expired ones admit
// nobody.
func TestTokens(t *testing.T) {
	s := startSonde(t)
	out := mustRun(t, nil, "sonde-collector", "token", "create", "--data", s.data, "--uses", "3", "--scope", "berlin", "--json")
	if !strings.Contains(out, `"token"`) {
		t.Fatal(out)
	}
	list := mustRun(t, nil, "sonde-collector", "token", "list", "--data", s.data)
	if !strings.Contains(list, "berlin") || !strings.Contains(list, "3") {
		t.Fatalf("token list:\n%s", list)
	}
	id := strings.Fields(strings.Split(list, "\n")[1])[0]
	mustRun(t, nil, "sonde-collector", "token", "revoke", id, "--data", s.data)
	if list := mustRun(t, nil, "sonde-collector", "token", "list", "--data", s.data); strings.Contains(list, id) {
		t.Fatalf("a revoked token is still listed:\n%s", list)
	}
}

// TestAudit: changes and sensitive reads are on the record, and changing
// one row of the log is detected.
func TestAudit(t *testing.T) {
	s := startSonde(t)
	admin := firstLine(mustRun(t, nil, "sonde-collector", "apikey", "create", "root", "--role", "admin", "--data", s.data))
	adminEnv := []string{"SONDE_URL=" + s.base, "SONDE_TOKEN=" + admin}
	mustRun(t, s.env, "sonde", "snapshot", s.agentID, "--probes", "cpu")
	mustRun(t, s.env, "sonde", "ticket", "open", "--title", "audit me")
	if _, err := run(t, s.env, "sonde", "audit"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("an l2 key read the audit log: %v", err)
	}
	out := mustRun(t, adminEnv, "sonde", "audit", "--verify")
	for _, want := range []string{"POST /api/v1/agents/{agent}/snapshots", "agent=" + s.agentID, "POST /api/v1/tickets", "apikey create", "e2e (l2"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit log lacks %q:\n%s", want, out)
		}
	}
	// Tamper with one row behind the collector's back (the table refuses
	// updates, so drop the guard first, as an attacker with the file would).
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.data, "sonde.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DROP TRIGGER audit_append_only_update; UPDATE audit SET actor = 'nobody' WHERE id = 2`); err != nil {
		t.Fatalf("tampering with the database: %v", err)
	}
	if _, err := run(t, adminEnv, "sonde", "audit", "--verify"); err == nil || !strings.Contains(err.Error(), "TAMPERED: entry 2") {
		t.Fatalf("a tampered audit log verified: %v", err)
	}
}
