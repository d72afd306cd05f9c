package ingest_test

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sondehq/sonde/internal/transport"

	"github.com/sondehq/sonde/collector/ingest"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/protocol"
)

// TestPendingAgentWaits: with approval required, an enrolled agent is
// refused until an admin approves it, and served from then on.
func TestPendingAgentWaits(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, func(c *ingest.Config) { c.RequireApproval = true })
	id := h.enroll(t, "waiting-host")
	if a, err := h.store.Agent(t.Context(), id.AgentID); err != nil || !a.Pending {
		t.Fatalf("an agent enrolled under approval: %+v, %v; want it pending", a, err)
	}
	conn, err := h.dial(t, &id.Cert)
	if err != nil {
		t.Fatal(err)
	}
	_, err = exchange[*protocol.Welcome](t, conn, frame(t, helloFor(id.AgentID)))
	expectRefusal(t, "hello of a pending agent", err, protocol.CodeUnauthorized, "awaits approval")
	if _, ok := h.srv.Connected()[id.AgentID]; ok {
		t.Error("a pending agent is listed as connected")
	}
	if err := h.store.ApproveAgent(t.Context(), id.AgentID); err != nil {
		t.Fatal(err)
	}
	h.checkServing(t, id)
}

// TestRevokedAgentCut: revoking an agent closes its live connection
// within the revocation poll, and its certificate no longer completes a
// handshake; other agents go on.
func TestRevokedAgentCut(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	bad, good := h.enroll(t, "stolen-laptop"), h.enroll(t, "desk")
	conn := h.connect(t, bad)
	if err := h.store.RevokeAgent(t.Context(), bad.AgentID, time.Now()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-conn.Context().Done():
	case <-time.After(patience):
		t.Fatal("a revoked agent's connection stays open")
	}
	var appErr *transport.ApplicationError
	if err := context.Cause(conn.Context()); !errors.As(err, &appErr) || !appErr.Remote || appErr.Code != protocol.CodeUnauthorized || !strings.Contains(appErr.Reason, "revoked") {
		t.Errorf("revoked connection closed with %v, want the collector's code %d saying revoked", err, protocol.CodeUnauthorized)
	}
	waitUntil(t, "the revoked agent to be disconnected", func() bool {
		_, ok := h.srv.Connected()[bad.AgentID]
		return !ok
	})
	again, err := h.dial(t, &bad.Cert)
	if err == nil {
		_, err = exchange[*protocol.Welcome](t, again, frame(t, helloFor(bad.AgentID)))
	}
	var te *quic.TransportError
	if !errors.As(err, &te) || !te.Remote || !te.ErrorCode.IsCryptoError() {
		t.Fatalf("a revoked agent dialing again: %v (%T), want a TLS alert from the collector", err, err)
	}
	h.checkServing(t, good)
}

// certStore is the real store whose SetAgentCert fails while failing is set.
type certStore struct {
	store.Store
	failing atomic.Bool
}

func (c *certStore) SetAgentCert(ctx context.Context, id, serial string) error {
	if c.failing.Load() {
		return errDisk
	}
	return c.Store.SetAgentCert(ctx, id, serial)
}

// TestRenewalRecordedBeforeHandedOut: a renewed certificate is handed to
// the agent only once the store has recorded it; a renewal request that is
// not a CSR is refused.
func TestRenewalRecordedBeforeHandedOut(t *testing.T) {
	t.Parallel()
	cs := &certStore{}
	h := newHarnessWith(t, func(c *ingest.Config) { cs.Store = c.Store; c.Store = cs })
	id := h.enroll(t, "renewing")
	before, err := h.store.Agent(t.Context(), id.AgentID)
	if err != nil {
		t.Fatal(err)
	}
	conn := h.connect(t, id)
	csr := newCSR(t, newKey(t))

	cs.failing.Store(true)
	_, err = exchange[*protocol.Renewed](t, conn, frame(t, &protocol.Renew{CSR: csr}))
	expectRefusal(t, "a renewal the store could not record", err, protocol.CodeUnavailable, "store")
	if a, _ := h.store.Agent(t.Context(), id.AgentID); a.CertSerial != before.CertSerial {
		t.Errorf("serial moved from %q to %q", before.CertSerial, a.CertSerial)
	}

	_, err = exchange[*protocol.Renewed](t, conn, frame(t, &protocol.Renew{CSR: []byte("not a CSR")}))
	expectRefusal(t, "a renewal without a CSR", err, protocol.CodeBadRequest, "")

	cs.failing.Store(false)
	r, err := exchange[*protocol.Renewed](t, conn, frame(t, &protocol.Renew{CSR: csr}))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(r.Certificate)
	if err != nil || leaf.Subject.CommonName != id.AgentID {
		t.Fatalf("renewed certificate: %v, %v", leaf, err)
	}
	if a, err := h.store.Agent(t.Context(), id.AgentID); err != nil || a.CertSerial != leaf.SerialNumber.Text(16) {
		t.Errorf("stored serial %q (%v), want %s", a.CertSerial, err, leaf.SerialNumber.Text(16))
	}
}

// helloStore is the real store whose SeenAgent fails while failing is set.
type helloStore struct {
	store.Store
	failing atomic.Bool
}

func (s *helloStore) SeenAgent(ctx context.Context, a store.Agent) error {
	if s.failing.Load() {
		return errDisk
	}
	return s.Store.SeenAgent(ctx, a)
}

// storeTroubleText is what an agent the store failed is told.
const storeTroubleText = "collector store error; try again later"

// TestHelloNotRecordedRefused: an agent whose hello the store cannot
// record is refused, not served.
func TestHelloNotRecordedRefused(t *testing.T) {
	t.Parallel()
	hs := &helloStore{}
	h := newHarnessWith(t, func(c *ingest.Config) { hs.Store = c.Store; c.Store = hs })
	id := h.enroll(t, "unrecorded")
	hs.failing.Store(true)
	conn, err := h.dial(t, &id.Cert)
	if err != nil {
		t.Fatal(err)
	}
	_, err = exchange[*protocol.Welcome](t, conn, frame(t, helloFor(id.AgentID)))
	// The refusal comes as the stream's error or, when the connection's
	// close overtakes it, as that close: both say the same, that the
	// collector is unavailable (the agent retries), never "unauthorized".
	expectRefusal(t, "hello the store could not record", err, protocol.CodeUnavailable, storeTroubleText)
	if _, ok := h.srv.Connected()[id.AgentID]; ok {
		t.Error("an agent whose hello was not recorded is listed as connected")
	}
	hs.failing.Store(false)
	h.checkServing(t, id)
}

// TestRequestSigned: a request carries the ticket it is for, is signed
// for the agent with the key handed out at enrollment, and never claims
// to live longer than an agent accepts, whatever the caller's deadline;
// without one, it lives for the stream timeout.
func TestRequestSigned(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	id := h.enroll(t, "signed")
	conn := h.connect(t, id)
	reqs := make(chan *protocol.SnapshotRequest, 4)
	go answerRequests(t.Context(), conn, reqs, func(req *protocol.SnapshotRequest) *protocol.Snapshot {
		s := h.snapshot(id.AgentID)
		s.Kind, s.RequestID = protocol.KindFull, req.RequestID
		return s
	})
	waitUntil(t, "the agent to be connected", func() bool {
		_, ok := h.srv.Connected()[id.AgentID]
		return ok
	})
	v := &protocol.Verifier{Key: id.RequestKey, AgentID: id.AgentID}

	ctx, cancel := context.WithTimeout(ingest.WithTicket(t.Context(), "T-42"), time.Hour)
	defer cancel()
	sent := time.Now()
	if _, err := h.srv.RequestSnapshot(ctx, id.AgentID, []string{"memory"}); err != nil {
		t.Fatal(err)
	}
	req := received(t, reqs)
	// The collector sets the deadline after sent and before now: at most
	// MaxRequestLife after the moment it did.
	late := time.Since(sent)
	if err := v.Verify(req, time.Now()); err != nil {
		t.Errorf("the request does not verify with the enrollment key: %v", err)
	}
	if req.Ticket != "T-42" || req.AgentID != id.AgentID {
		t.Errorf("request %+v, want ticket T-42 for %s", req, id.AgentID)
	}
	if d := time.UnixMilli(req.Deadline).Sub(sent); d > protocol.MaxRequestLife+late || d < protocol.MaxRequestLife-patience {
		t.Errorf("a request made with an hour to go expires in %s, want MaxRequestLife (%s)", d, protocol.MaxRequestLife)
	}

	sent = time.Now()
	if _, err := h.srv.RequestSnapshot(t.Context(), id.AgentID, nil); err != nil {
		t.Fatal(err)
	}
	req = received(t, reqs)
	if req.Ticket != "" {
		t.Errorf("a request for no ticket names %q", req.Ticket)
	}
	if d := time.UnixMilli(req.Deadline).Sub(sent); d > 30*time.Second || d < 30*time.Second-patience {
		t.Errorf("a request made without a deadline expires in %s, want the 30 s stream timeout", d)
	}
}

// TestClockOffLogged: an agent whose clock is off by more than
// protocol.MaxClockAhead, either way, is logged; one in time is not.
func TestClockOffLogged(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	off := map[string]bool{}
	for _, tc := range []struct {
		name string
		at   time.Time
		off  bool
	}{
		{"no-clock", time.Time{}, false}, // an agent that does not send its time
		{"in-time", time.Now(), false},
		{"ahead", time.Now().Add(protocol.MaxClockAhead + time.Minute), true},
		{"behind", time.Now().Add(-protocol.MaxClockAhead - time.Minute), true},
		{"a-little-behind", time.Now().Add(-protocol.MaxClockAhead + time.Minute), false},
	} {
		_, agentID := h.helloAt(t, tc.name, tc.at)
		off[agentID] = tc.off
	}
	logs := h.logs.String()
	for agentID, want := range off {
		if got := strings.Contains(logs, `msg="agent clock is off" agent=`+agentID); got != want {
			t.Errorf("agent %s: clock logged as off %v, want %v", agentID, got, want)
		}
	}
}

// TestHangUpIsNotABadMessage: an agent that goes away in the middle of a
// snapshot (its stream reset) is not counted or answered as one that sent
// something malformed; it sends the snapshot again.
func TestHangUpIsNotABadMessage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	id := h.enroll(t, "flaky-network")
	conn := h.connect(t, id)
	str, err := conn.OpenStream(timeout(t))
	if err != nil {
		t.Fatal(err)
	}
	raw := frame(t, h.snapshot(id.AgentID))
	if _, err := str.Write(raw[:len(raw)/2]); err != nil {
		t.Fatal(err)
	}
	str.CancelWrite(0)
	str.CancelRead(0)
	waitUntil(t, "the collector to see the hang-up", func() bool {
		return strings.Contains(h.logs.String(), "agent hung up before its message ended")
	})
	if n := h.obs.failures("decode"); n != 0 {
		t.Errorf("a hang-up counted as %d bad messages", n)
	}
	h.checkServing(t, id)
}

// revocationStore is the real store whose Revoked fails while failing is
// set.
type revocationStore struct {
	store.Store
	failing atomic.Bool
}

func (r *revocationStore) Revoked(ctx context.Context) ([]string, error) {
	if r.failing.Load() {
		return nil, errDisk
	}
	return r.Store.Revoked(ctx)
}

// TestRevocationsUnreadableLogged: when the revocation list cannot be read
// while the collector runs, it says so (a revoked agent would keep its
// connection), and goes on serving.
func TestRevocationsUnreadableLogged(t *testing.T) {
	t.Parallel()
	rs := &revocationStore{}
	h := newHarnessWith(t, func(c *ingest.Config) { rs.Store = c.Store; c.Store = rs })
	id := h.enroll(t, "served")
	if strings.Contains(h.logs.String(), "reading revocations") {
		t.Fatal("revocations logged as unreadable while the store reads them")
	}
	rs.failing.Store(true)
	waitUntil(t, "the collector to log that it cannot read revocations", func() bool {
		return strings.Contains(h.logs.String(), `msg="reading revocations" err="disk I/O error`)
	})
	h.checkServing(t, id)
}

// TestEnrollmentTakesOnlyEnroll: a connection without a certificate may
// enroll and do nothing else.
func TestEnrollmentTakesOnlyEnroll(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	conn, err := h.dial(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = exchange[*protocol.Enrolled](t, conn, frame(t, helloFor("no-certificate")))
	expectRefusal(t, "a hello without a certificate", err, protocol.CodeBadRequest, "expected an enrollment request")
	if agents, err := h.store.Agents(t.Context()); err != nil || len(agents) != 0 {
		t.Errorf("agents after a refused enrollment: %v, %v", agents, err)
	}
}
