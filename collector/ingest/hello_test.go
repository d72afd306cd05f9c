package ingest_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// TestHelloChallenge drives the hello of a current agent by hand: the
// welcome proves the request key for this agent, challenge and
// connection; the facts arrive after it, in an introduce on the same
// stream, and only then are they recorded and the agent served.
func TestHelloChallenge(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	id := h.enroll(t, "enrolled-as")
	conn, err := h.dial(t, &id.Cert)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseWithError(0, "")
	str, err := conn.OpenStream(timeout(t))
	if err != nil {
		t.Fatal(err)
	}
	defer str.Close()
	str.SetDeadline(time.Now().Add(patience))
	challenge := make([]byte, protocol.ChallengeLen)
	rand.Read(challenge)
	hello := &protocol.Hello{AgentID: id.AgentID, AgentVersion: "test", Versions: []uint8{protocol.Version}, Challenge: challenge}
	if err := protocol.Write(str, hello); err != nil {
		t.Fatal(err)
	}
	w, err := protocol.ReadAs[*protocol.Welcome](str)
	if err != nil {
		t.Fatal(err)
	}
	binding, err := protocol.HelloBinding(conn.ConnectionState())
	if err != nil {
		t.Fatal(err)
	}
	if err := protocol.VerifyHelloProof(h.requestKey.Public().(ed25519.PublicKey), id.AgentID, challenge, binding, w.Proof); err != nil {
		t.Fatalf("the welcome's proof: %v", err)
	}
	// Not served, nothing recorded, until the introduce.
	time.Sleep(100 * time.Millisecond)
	if a, err := h.store.Agent(t.Context(), id.AgentID); err != nil || !a.LastSeen.IsZero() || a.Facts.Hostname != "enrolled-as" {
		t.Fatalf("before the introduce: %+v, %v; want the agent as enrolled", a, err)
	}
	if got := h.srv.Connected(); len(got) != 0 {
		t.Fatalf("served before the introduce: %v", got)
	}
	facts := testFacts("introduced")
	if err := protocol.Write(str, &protocol.Introduce{BootEpoch: 1, Facts: facts, Probes: []string{"memory"}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the agent to be served", func() bool { return len(h.srv.Connected()) == 1 })
	a, err := h.store.Agent(t.Context(), id.AgentID)
	if err != nil || a.Facts != facts || a.AgentVersion != "test" || len(a.Probes) != 1 || a.LastSeen.IsZero() {
		t.Fatalf("after the introduce: %+v, %v", a, err)
	}
	h.push(t, conn, h.snapshot(id.AgentID))
}
