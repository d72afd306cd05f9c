package client

import (
	"crypto/ed25519"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/protocol"
)

// TestAdmit: the agent serves only requests its collector signed, for
// itself, fresh, once, naming compiled-in probes.
func TestAdmit(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	_, otherKey, _ := ed25519.GenerateKey(nil)
	c := &Client{ID: &state.Identity{Config: state.Config{AgentID: "agent-1", RequestKey: pub}}, Probes: probe.NewSet()}
	c.verifier = &protocol.Verifier{Key: pub, AgentID: "agent-1"}
	now := time.Now()
	nonce := func(b byte) []byte { n := make([]byte, 16); n[0] = b; return n }
	req := func(probes []string, deadline time.Time, k ed25519.PrivateKey, agent string, n byte) *protocol.SnapshotRequest {
		r := &protocol.SnapshotRequest{RequestID: "r1", Probes: probes, Deadline: deadline.UnixMilli()}
		if k != nil {
			if err := r.Sign(k, agent, nonce(n)); err != nil {
				t.Fatal(err)
			}
		}
		return r
	}
	good := req([]string{"memory"}, now.Add(30*time.Second), key, "agent-1", 1)
	if timeout, refusal := c.admit(good, now); refusal != nil || timeout <= 0 {
		t.Fatalf("a good request was refused: %v", refusal)
	}
	tampered := req([]string{"memory"}, now.Add(30*time.Second), key, "agent-1", 9)
	tampered.Probes = []string{"processes"}
	for _, tc := range []struct {
		name string
		req  *protocol.SnapshotRequest
		says string
	}{
		{"replayed", good, "seen before"},
		{"unsigned", req(nil, now.Add(30*time.Second), nil, "", 0), "not signed"},
		{"signed by another key", req(nil, now.Add(30*time.Second), otherKey, "agent-1", 2), "does not verify"},
		{"changed after signing", tampered, "does not verify"},
		{"for another agent", req(nil, now.Add(30*time.Second), key, "agent-2", 3), "another agent"},
		{"expired", req(nil, now.Add(-time.Second), key, "agent-1", 4), "expired"},
		{"living too long", req(nil, now.Add(time.Hour), key, "agent-1", 5), "too far ahead"},
		{"unknown probe", req([]string{"shell"}, now.Add(30*time.Second), key, "agent-1", 6), "unknown probe"},
		{"a probe named twice", req([]string{"memory", "network", "memory"}, now.Add(30*time.Second), key, "agent-1", 7), "probe memory named twice"},
	} {
		_, refusal := c.admit(tc.req, now)
		if refusal == nil || !strings.Contains(refusal.Message, tc.says) {
			t.Errorf("%s: refusal %v, want one saying %q", tc.name, refusal, tc.says)
		}
	}
}

// TestAdmitAcrossRestart: a request the agent served is refused after the
// agent restarts (a new verifier on the same state dir, as Run makes);
// a new one is served. With its mark damaged, the agent refuses every
// request that may have lived before it started, and serves again those
// that cannot have.
func TestAdmitAcrossRestart(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	dir := t.TempDir()
	start := func(now time.Time) *Client {
		c := &Client{ID: &state.Identity{Config: state.Config{AgentID: "agent-1", RequestKey: pub}}, Probes: probe.NewSet(),
			StateDir: dir, Log: slog.New(slog.DiscardHandler)}
		c.verifier = c.newVerifier(now)
		return c
	}
	now := time.Now()
	signed := func(n byte, life time.Duration) *protocol.SnapshotRequest {
		r := &protocol.SnapshotRequest{RequestID: "r1", Probes: []string{"memory"}, Deadline: now.Add(life).UnixMilli()}
		nonce := make([]byte, 16)
		nonce[0] = n
		if err := r.Sign(key, "agent-1", nonce); err != nil {
			t.Fatal(err)
		}
		return r
	}
	served := signed(1, time.Minute)
	c := start(now)
	if _, refusal := c.admit(served, now); refusal != nil {
		t.Fatalf("a good request: %v", refusal)
	}

	now = now.Add(time.Second)
	c = start(now)
	if _, refusal := c.admit(served, now); refusal == nil || !strings.Contains(refusal.Message, "accepted before it restarted") {
		t.Errorf("the request served before the restart, again: %v", refusal)
	}
	if _, refusal := c.admit(signed(2, time.Minute), now); refusal != nil {
		t.Errorf("a new request after the restart: %v", refusal)
	}

	if err := os.WriteFile(filepath.Join(dir, "replay-mark"), []byte("garbled"), 0o600); err != nil {
		t.Fatal(err)
	}
	c = start(now)
	if _, refusal := c.admit(signed(3, protocol.MaxRequestLife-time.Second), now); refusal == nil || !strings.Contains(refusal.Message, "seen before") {
		t.Errorf("with the mark damaged, a request that may have lived before the start: %v", refusal)
	}
	now = now.Add(time.Minute)
	if _, refusal := c.admit(signed(4, protocol.MaxRequestLife), now); refusal != nil {
		t.Errorf("with the mark damaged, a request expiring after any that lived before the start: %v", refusal)
	}
}
