package ingest_test

import (
	"crypto/x509"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sondehq/sonde/collector/ingest"
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
	if err := (&protocol.Verifier{Key: id.RequestKey, AgentID: id.AgentID}).Verify(<-reqs, time.Now()); err != nil {
		t.Errorf("a request from a collector with a key of its own making: %v", err)
	}
}

// TestNoUnidirectionalStreams: an agent cannot open a one-way stream,
// whose data the collector would have to hold and never read.
func TestNoUnidirectionalStreams(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	conn := h.connect(t, h.enroll(t, "one-way"))
	str, err := conn.OpenUniStream()
	var limit *quic.StreamLimitReachedError
	if !errors.As(err, &limit) {
		if str != nil {
			str.CancelWrite(0)
		}
		t.Fatalf("OpenUniStream = %v, want the collector's limit of none", err)
	}
}

// TestDiscoveryFloodCut: CA requests are answered up to the burst (and
// what the rate adds meanwhile), then no more: discovery cannot be used to
// make the collector send without bound.
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
	ask := func(wait time.Duration) bool {
		if _, err := c.Write(protocol.DiscoveryRequest()); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(wait))
		_, err := c.Read(buf)
		return err == nil
	}
	// The first requests may go unanswered while the server starts.
	start := time.Now()
	waitUntil(t, "a CA discovery answer", func() bool { return ask(100 * time.Millisecond) })
	// One at a time, so that none is lost on the way: the first one
	// unanswered is where the burst ran out.
	answered := 1
	for answered < flood && ask(250*time.Millisecond) {
		answered++
	}
	took := time.Since(start)
	if most := burst + int(rate*took.Seconds()) + 1; answered == flood || answered > most {
		t.Errorf("%d requests in a row answered in %s, want the answers to stop after at most %d", answered, took.Round(time.Millisecond), most)
	}
}
