package ingest_test

import (
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sondehq/sonde/collector/ingest"
	tquic "github.com/sondehq/sonde/internal/transport/quic"
	"github.com/sondehq/sonde/protocol"
)

// TestZeroConfig: a Config with only its address, CA and store set
// works: it logs to the default logger, observes nothing, makes its own
// request key, issues week-long agent certificates, and has room to
// ingest.
func TestZeroConfig(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, func(c *ingest.Config) {
		c.Log, c.Observe, c.RequestKey = nil, nil, nil
		c.MaxIngest, c.QueueWait, c.CertValidity, c.HealthInterval = 0, 0, 0, 0
	})
	enrolled := time.Now()
	id := h.enroll(t, "defaults")
	leaf, err := x509.ParseCertificate(id.Cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if life := leaf.NotAfter.Sub(enrolled); life < 7*24*time.Hour-time.Hour || life > 7*24*time.Hour+time.Hour {
		t.Errorf("an agent certificate issued with the default validity lives %s, want 7 days", life)
	}
	h.checkServing(t, id)

	// An agent refused is logged, to the default logger.
	conn, err := h.dial(t, certFrom(t, h.ca, "never-enrolled"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = exchange[*protocol.Welcome](t, conn, frame(t, helloFor("never-enrolled")))
	expectRefusal(t, "hello", err, protocol.CodeUnauthorized, "not enrolled")

	// Requests are signed with the key the agent was given.
	conn = h.connect(t, id)
	reqs := make(chan *protocol.SnapshotRequest, 1)
	go answerRequests(t.Context(), conn, reqs, func(req *protocol.SnapshotRequest) *protocol.Snapshot {
		s := h.snapshot(id.AgentID)
		s.Kind, s.RequestID = protocol.KindFull, req.RequestID
		return s
	})
	waitUntil(t, "the agent to be connected", func() bool {
		_, ok := h.srv.Connected()[id.AgentID]
		return ok
	})
	if _, err := h.srv.RequestSnapshot(timeout(t), id.AgentID, nil); err != nil {
		t.Fatal(err)
	}
	if err := (&protocol.Verifier{Key: id.RequestKey, AgentID: id.AgentID}).Verify(received(t, reqs), time.Now()); err != nil {
		t.Errorf("a request from a collector with a key of its own making: %v", err)
	}
}

// TestNoUnidirectionalStreams: an agent cannot open a one-way stream,
// whose data the collector would have to hold and never read.
func TestNoUnidirectionalStreams(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	conn := h.connect(t, h.enroll(t, "one-way"))
	qc, _ := tquic.Unwrap(conn)
	str, err := qc.OpenUniStream()
	var limit *quic.StreamLimitReachedError
	if !errors.As(err, &limit) {
		if str != nil {
			str.CancelWrite(0)
		}
		t.Fatalf("OpenUniStream = %v, want the collector's limit of none", err)
	}
}

// TestDiscoveryFloodCut: CA requests are answered up to the burst (a
// fleet rollout enrolling at once), and what the rate adds meanwhile, then
// no more: discovery cannot be used to make the collector send without
// bound.
func TestDiscoveryFloodCut(t *testing.T) {
	t.Parallel()
	const burst, rate, flood = 200, 50, 300 // server.go's discoveryBurst and discoveryRate
	h := newHarness(t, 0)
	c, err := net.Dial("udp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 2048)
	answer := func(wait time.Duration) bool {
		c.SetReadDeadline(time.Now().Add(wait))
		_, err := c.Read(buf)
		return err == nil
	}
	ask := func() bool {
		if _, err := c.Write(protocol.DiscoveryRequest()); err != nil {
			t.Fatal(err)
		}
		// An answer slow to come is not a refusal: wait longer for it
		// before taking the request as dropped.
		return answer(250*time.Millisecond) || answer(time.Second)
	}
	// The first requests may go unanswered while the server starts.
	start := time.Now()
	waitUntil(t, "a CA discovery answer", func() bool {
		c.Write(protocol.DiscoveryRequest())
		return answer(100 * time.Millisecond)
	})
	// One at a time, so that none is lost on the way: the first one
	// unanswered is where the burst ran out.
	answered := 1
	for answered < flood && ask() {
		answered++
	}
	took := time.Since(start)
	if most := burst + int(rate*took.Seconds()) + 1; answered == flood || answered > most || answered < burst {
		t.Errorf("%d requests in a row answered in %s, want the answers to stop after %d to %d", answered, took.Round(time.Millisecond), burst, most)
	}
	// The last request went unanswered, and ask waited over a second for
	// it: the rate has since refilled the bucket, so the next is answered.
	if !ask() {
		t.Errorf("no answer a second after the burst ran out, want the rate (%d a second) to have refilled the bucket", rate)
	}
}

// TestServerCertificate: the collector presents a certificate from its CA
// for the hosts it was given, valid for a year: agents verify it against
// the CA they pinned, and it is made anew at each start.
func TestServerCertificate(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	conn, err := h.dial(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	chain := conn.ConnectionState().PeerCertificates
	if len(chain) == 0 {
		t.Fatal("no server certificate")
	}
	leaf := chain[0]
	if err := leaf.CheckSignatureFrom(h.ca.Cert); err != nil {
		t.Errorf("the server certificate is not the CA's: %v", err)
	}
	if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("the server certificate does not name its host: %v", err)
	}
	if life := time.Until(leaf.NotAfter); life < 364*24*time.Hour || life > 366*24*time.Hour {
		t.Errorf("the server certificate expires in %s, want a year", life.Round(time.Hour))
	}
}

// TestReachabilityCheckNotRefused: an agent that hangs up before its hello
// (the network probe timing a handshake) is not logged as a refused agent,
// which would warn about every agent at every health snapshot.
func TestReachabilityCheckNotRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	id := h.enroll(t, "probing")
	conn, err := h.dial(t, &id.Cert)
	if err != nil {
		t.Fatal(err)
	}
	conn.CloseWithError(0, "reachability check")
	waitUntil(t, "the collector to see the agent hang up", func() bool {
		return strings.Contains(h.logs.String(), `msg="agent closed before hello" agent=`+id.AgentID)
	})
	if strings.Contains(h.logs.String(), `msg="agent refused" agent=`+id.AgentID) {
		t.Errorf("a reachability check was logged as a refused agent:\n%s", h.logs)
	}
}
