package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sondehq/sonde/e2e/harness"
	_ "modernc.org/sqlite"
)

// TestRevoke: a revoked agent's live connection is closed at the
// collector's next look at the revocations (every 300 ms), it cannot come
// back, and a collector restart does not forget. The test waits on
// events — the collector's log line, the agent's refused attempts — not
// on the clock.
func TestRevoke(t *testing.T) {
	s := startSonde(t)
	online := func() bool {
		var agents []agentView
		api(t, "GET", s.base+"/api/v1/agents", s.key, nil, &agents)
		return len(agents) == 1 && agents[0].Online
	}
	attempts := func() int { return strings.Count(s.agent.Output(), "collector connection lost; retrying") }
	mustRun(t, nil, "sonde-collector", "agent", "revoke", s.agentID, "--data", s.data)
	waitFor(t, "the collector to close the revoked agent's connection", 10*time.Second, func() bool {
		return strings.Contains(s.collector.Output(), "closing a revoked agent's connection")
	})
	waitFor(t, "the revoked agent to be disconnected", 10*time.Second, func() bool { return !online() })
	if out := mustRun(t, nil, "sonde-collector", "agent", "list", "--data", s.data); !strings.Contains(out, s.agentID) {
		t.Fatalf("agent list:\n%s", out)
	}
	// The agent keeps retrying (1 s, 2 s, 4 s ...): each attempt is
	// refused, also across a restart of the collector.
	stayedOut := func(what string) {
		t.Helper()
		n := attempts()
		waitFor(t, "two more refused attempts "+what, 30*time.Second, func() bool { return attempts() >= n+2 })
		if online() {
			t.Fatal("the revoked agent reconnected " + what)
		}
	}
	stayedOut("after the revocation")
	s.collector.cmd.Process.Kill()
	s.collector.cmd.Wait()
	s.startCollector(t)
	stayedOut("after a restart")
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
	for _, want := range []string{"snapshot.take", "agent=" + s.agentID, "ticket.open", "ok via api", "audit.read", "denied", "apikey create", "e2e (l2"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit log lacks %q:\n%s", want, out)
		}
	}
	// Cut the newest rows behind the collector's back, as someone with the
	// database file could once the triggers are dropped: the checkpoint the
	// collector signed at its last stop still names the cut entries.
	s.collector.cmd.Process.Signal(syscall.SIGTERM)
	s.collector.cmd.Wait()
	cut, err := sql.Open("sqlite", "file:"+filepath.Join(s.data, "sonde.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cut.Exec(`DROP TRIGGER audit_append_only_delete; DELETE FROM audit WHERE id > 3`); err != nil {
		t.Fatalf("cutting the audit log: %v", err)
	}
	cut.Close()
	if out, err := run(t, nil, "sonde-collector", "audit", "verify", "--data", s.data); err == nil || !strings.Contains(err.Error(), "TRUNCATED") {
		t.Fatalf("a cut audit log, checked on the data dir: %v\n%s", err, out)
	}
	s.startCollector(t)
	if _, err := run(t, adminEnv, "sonde", "audit", "--verify", "--since-checkpoint"); err == nil || !strings.Contains(err.Error(), "TRUNCATED") {
		t.Fatalf("a cut audit log, checked through the API: %v", err)
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

// TestHTTPS: the API and UI can be served over TLS.
func TestHTTPS(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	httpAddr := harness.FreeAddr(t)
	_, port, _ := net.SplitHostPort(httpAddr)
	start(t, "sonde-collector", "serve", "--data", t.TempDir(), "--quic", harness.FreeAddr(t), "--http", httpAddr,
		"--tls-cert", certFile, "--tls-key", keyFile)
	pool := x509.NewCertPool()
	leaf, _ := x509.ParseCertificate(der)
	pool.AddCert(leaf)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	waitFor(t, "the collector over HTTPS", 10*time.Second, func() bool {
		resp, err := client.Get("https://localhost:" + port + "/livez")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// TestApproval: with --require-approval a new agent waits, refused, until
// an admin approves it; then it connects by itself.
func TestApproval(t *testing.T) {
	s := &sonde{data: t.TempDir(), state: t.TempDir(), quicAddr: harness.FreeAddr(t)}
	httpAddr := harness.FreeAddr(t)
	s.base = "http://" + httpAddr
	s.serveArgs = []string{"serve", "--data", s.data, "--quic", s.quicAddr, "--http", httpAddr, "--require-approval"}
	s.startCollector(t)
	s.enroll(t)
	agent := start(t, "sonde-agent", "run", "--state", s.state)
	key := firstLine(mustRun(t, nil, "sonde-collector", "apikey", "create", "e2e", "--role", "l2", "--data", s.data))
	var agents []agentView
	online := func() bool {
		agents = nil
		api(t, "GET", s.base+"/api/v1/agents", key, nil, &agents)
		return len(agents) == 1 && agents[0].Online
	}
	waitFor(t, "two refused attempts of the agent awaiting approval", 30*time.Second, func() bool {
		return strings.Count(agent.Output(), "collector connection lost; retrying") >= 2
	})
	if online() {
		t.Fatal("an agent awaiting approval connected")
	}
	list := mustRun(t, nil, "sonde-collector", "agent", "list", "--data", s.data)
	if !strings.Contains(list, "awaiting approval") {
		t.Fatalf("agent list:\n%s", list)
	}
	mustRun(t, nil, "sonde-collector", "agent", "approve", agents[0].ID, "--data", s.data)
	waitFor(t, "the approved agent to connect", 40*time.Second, online)
}
