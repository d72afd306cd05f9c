package ingest_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sondehq/sonde/agent/client"
	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/collector/ingest"
	"github.com/sondehq/sonde/collector/pki"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/store/sqlite"
	"github.com/sondehq/sonde/internal/transport"
	tquic "github.com/sondehq/sonde/internal/transport/quic"
	"github.com/sondehq/sonde/internal/transport/tcp"
	"github.com/sondehq/sonde/protocol"
)

// patience bounds every wait; the tests poll, so they finish as soon as
// what they wait for happens.
const patience = 10 * time.Second

// syncBuffer keeps the collector's log, shown when a test fails.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// observer counts the server's ingest events.
type observer struct {
	mu        sync.Mutex
	connected int
	byKind    map[string]int
	ingested  map[string]int
	failed    map[string]int
}

func (o *observer) Connected(kind string, delta int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.connected += delta
	if o.byKind == nil {
		o.byKind = map[string]int{}
	}
	o.byKind[kind] += delta
}

func (o *observer) Ingested(kind string, duplicate bool, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if duplicate {
		kind += "/duplicate"
	}
	o.ingested[kind]++
}

func (o *observer) IngestFailed(reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failed[reason]++
}

func (o *observer) RoundTrip(time.Duration, error) {}

func (o *observer) failures(reason string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.failed[reason]
}

func (o *observer) ingestedCount(kind string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ingested[kind]
}

func (o *observer) connectedOver(kind string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.byKind[kind]
}

func (o *observer) connectedCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.connected
}

// harness is a running collector: a fresh CA, a fresh SQLite store and an
// ingest server on a loopback port.
type harness struct {
	ca    *pki.CA
	store *sqlite.Store
	srv   *ingest.Server
	addr  string
	obs   *observer
	logs  *syncBuffer // the collector's log
	seq   atomic.Uint64
	// requestKey is the server's request key, for a second server that
	// stands in for it (its agents refuse one without it).
	requestKey ed25519.PrivateKey
	// The keep-alive period and idle timeout offer of the agents that
	// keep their connections alive (connectCuttable, dialTCP): 5 s, as
	// agents have it, and 30 s, an older agent's offer (agent/client's is
	// 15 s); a liveness harness's are scaled (newLivenessHarness).
	keepAlive, agentIdle time.Duration
}

func newHarness(t testing.TB, healthInterval time.Duration) *harness {
	t.Helper()
	return newHarnessWith(t, func(c *ingest.Config) { c.HealthInterval = healthInterval })
}

// newHarnessWith starts a server whose config tune adjusts.
func newHarnessWith(t testing.TB, tune func(*ingest.Config)) *harness {
	t.Helper()
	dir := t.TempDir()
	ca, created, err := pki.LoadOrCreate(filepath.Join(dir, "ca"))
	if err != nil || !created {
		t.Fatalf("making the CA: created %v, %v", created, err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "sonde.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs := new(syncBuffer)
	obs := &observer{ingested: map[string]int{}, failed: map[string]int{}}
	cfg := ingest.Config{
		Addr:    "127.0.0.1:0",
		TCPAddr: "127.0.0.1:0", // the same port number as QUIC's
		Hosts:   []string{"127.0.0.1"},
		CA:      ca,
		Store:   st,
		Log:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Observe: obs,
	}
	_, cfg.RequestKey, _ = ed25519.GenerateKey(nil)
	tune(&cfg)
	srv, err := ingest.Listen(cfg)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(patience):
			t.Errorf("Serve did not return within %s of its context ending", patience)
		}
		if t.Failed() {
			t.Logf("collector log:\n%s", logs)
		}
	})
	return &harness{ca: ca, store: st, srv: srv, addr: srv.Addr().String(), obs: obs, logs: logs, requestKey: cfg.RequestKey,
		keepAlive: 5 * time.Second, agentIdle: 30 * time.Second}
}

// waitUntil polls cond until it holds, failing the test after patience.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", patience, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func timeout(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	t.Cleanup(cancel)
	return ctx
}

// token makes an enrollment token with the given number of uses.
func (h *harness) token(t testing.TB, uses int) string {
	t.Helper()
	tok := rand.Text()
	now := time.Now()
	if err := h.store.CreateToken(t.Context(), store.Token{Hash: ingest.TokenHash(tok), CreatedAt: now, ExpiresAt: now.Add(time.Hour), Uses: uses, CreatedBy: "test"}); err != nil {
		t.Fatal(err)
	}
	return tok
}

func testFacts(hostname string) protocol.Facts {
	return protocol.Facts{Hostname: hostname, OS: "linux", Arch: "amd64", CPUs: 2}
}

// enroll runs the agent's enrollment with a fresh token and loads the
// identity it saved.
func (h *harness) enroll(t testing.TB, hostname string) *state.Identity {
	t.Helper()
	dir := t.TempDir()
	cfg, err := client.Enroll(timeout(t), dir, h.addr, h.token(t, 1), h.ca.Pin(), testFacts(hostname), nil)
	if err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	id, err := state.Load(dir)
	if err != nil {
		t.Fatalf("loading the enrolled identity: %v", err)
	}
	if id.AgentID != cfg.AgentID {
		t.Fatalf("saved identity is %s, Enroll returned %s", id.AgentID, cfg.AgentID)
	}
	return id
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func newCSR(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "test"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

// certFrom has ca sign a client certificate for agentID, whether or not
// that agent is enrolled.
func certFrom(t *testing.T, ca *pki.CA, agentID string) *tls.Certificate {
	t.Helper()
	key := newKey(t)
	der, err := ca.SignAgent(newCSR(t, key), agentID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// dial opens a raw QUIC connection to the collector, trusting its CA and
// presenting cert when given.
func (h *harness) dial(t *testing.T, cert *tls.Certificate) (transport.Conn, error) {
	t.Helper()
	conn, err := tquic.Dial(timeout(t), h.addr, h.clientTLS(cert), &quic.Config{HandshakeIdleTimeout: patience, MaxIdleTimeout: 30 * time.Second})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { conn.CloseWithError(0, "test over") })
	return conn, nil
}

// dialTCP opens a raw TCP connection (TLS and yamux) to the collector's
// TCP port, the same number as QUIC's, over raw when given.
func (h *harness) dialTCP(t *testing.T, cert *tls.Certificate, raw net.Conn) (transport.Conn, error) {
	t.Helper()
	if raw == nil {
		var err error
		if raw, err = net.Dial("tcp", h.addr); err != nil {
			return nil, err
		}
	}
	// As agents do: keep-alives.
	conn, err := tcp.Client(timeout(t), raw, h.clientTLS(cert), &tcp.Config{IdleTimeout: h.agentIdle, KeepAlivePeriod: h.keepAlive})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { conn.CloseWithError(0, "test over") })
	return conn, nil
}

func frame(t testing.TB, m protocol.Message) []byte {
	t.Helper()
	b, err := protocol.Append(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exchange writes raw on a new stream and reads one answer of type T (a
// protocol.Error comes back as the error), then closes the stream, in the
// order the agent does.
func exchange[T protocol.Message](t testing.TB, conn transport.Conn, raw []byte) (T, error) {
	t.Helper()
	return roundTrip[T](t, conn, raw, false)
}

// exchangeEOF is exchange with the stream closed before the answer is
// read, for requests the collector can only judge at the end of the stream.
func exchangeEOF[T protocol.Message](t *testing.T, conn transport.Conn, raw []byte) (T, error) {
	t.Helper()
	return roundTrip[T](t, conn, raw, true)
}

func roundTrip[T protocol.Message](t testing.TB, conn transport.Conn, raw []byte, closeFirst bool) (T, error) {
	t.Helper()
	var zero T
	str, err := conn.OpenStream(timeout(t))
	if err != nil {
		return zero, err
	}
	defer str.CancelRead(0)
	defer str.Close()
	str.SetDeadline(time.Now().Add(patience))
	if _, err := str.Write(raw); err != nil {
		return zero, err
	}
	if closeFirst {
		// The collector may have stopped reading already, having judged
		// the message; then closing fails and the answer is still there.
		str.Close()
	}
	return protocol.ReadAs[T](str)
}

func helloFor(agentID string) *protocol.Hello {
	return &protocol.Hello{
		AgentID:      agentID,
		AgentVersion: "test",
		Versions:     []uint8{protocol.Version},
		BootEpoch:    1700000000000,
		Facts:        testFacts("hand-driven"),
		Probes:       []string{"memory"},
	}
}

// clientTLS trusts the collector's CA and presents cert when given.
func (h *harness) clientTLS(cert *tls.Certificate) *tls.Config {
	tc := &tls.Config{
		MinVersion: tls.VersionTLS13,
		RootCAs:    h.ca.Pool(),
		ServerName: "127.0.0.1",
		NextProtos: []string{protocol.ALPN},
	}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	return tc
}

// connect dials with the identity's certificate and says hello.
func (h *harness) connect(t *testing.T, id *state.Identity) transport.Conn {
	t.Helper()
	conn, err := h.dial(t, &id.Cert)
	if err != nil {
		t.Fatalf("dialing as %s: %v", id.AgentID, err)
	}
	h.hello(t, conn, id)
	return conn
}

// hello says hello as the identity on conn and checks the welcome.
func (h *harness) hello(t testing.TB, conn transport.Conn, id *state.Identity) {
	t.Helper()
	w, err := exchange[*protocol.Welcome](t, conn, frame(t, helloFor(id.AgentID)))
	if err != nil {
		t.Fatalf("hello as %s: %v", id.AgentID, err)
	}
	if w.CollectorTime <= 0 {
		t.Errorf("welcome carries no collector time: %+v", w)
	}
}

func (h *harness) snapshot(agentID string) *protocol.Snapshot {
	return &protocol.Snapshot{
		Kind:       protocol.KindHealth,
		AgentID:    agentID,
		BootEpoch:  1700000000000,
		Seq:        h.seq.Add(1),
		CapturedAt: time.Now().UnixMilli(),
		Probes: []protocol.ProbeResult{
			{Name: "memory", Data: []byte(`{"total":8589934592,"available":4294967296}`), Duration: 90_000},
		},
	}
}

// push sends one snapshot on a new stream and checks the ack.
func (h *harness) push(t *testing.T, conn transport.Conn, snap *protocol.Snapshot) *protocol.Ack {
	t.Helper()
	ack, err := exchange[*protocol.Ack](t, conn, frame(t, snap))
	if err != nil {
		t.Fatalf("pushing snapshot %d: %v", snap.Seq, err)
	}
	if ack.AgentID != snap.AgentID || ack.BootEpoch != snap.BootEpoch || ack.Seq != snap.Seq {
		t.Fatalf("ack %+v for snapshot %s/%d/%d", ack, snap.AgentID, snap.BootEpoch, snap.Seq)
	}
	return ack
}

// stored reports whether the store holds the snapshot.
func (h *harness) stored(t *testing.T, snap *protocol.Snapshot) bool {
	t.Helper()
	list, err := h.store.Snapshots(t.Context(), snap.AgentID, store.SnapshotFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.BootEpoch == snap.BootEpoch && s.Seq == snap.Seq {
			return true
		}
	}
	return false
}

// checkServing connects as a well-behaved agent and delivers a snapshot.
func (h *harness) checkServing(t *testing.T, id *state.Identity) {
	t.Helper()
	conn := h.connect(t, id)
	defer conn.CloseWithError(0, "done")
	snap := h.snapshot(id.AgentID)
	h.push(t, conn, snap)
	if !h.stored(t, snap) {
		t.Fatalf("acked snapshot %d is not in the store", snap.Seq)
	}
}

// refusal extracts the code and reason of a refusal, whether it came as a
// protocol.Error on the stream or as the connection's close.
func refusal(err error) (code uint64, reason string, ok bool) {
	var perr *protocol.Error
	if errors.As(err, &perr) {
		return uint64(perr.Code), perr.Message, true
	}
	var appErr *transport.ApplicationError
	if errors.As(err, &appErr) && appErr.Remote {
		return uint64(appErr.Code), appErr.Reason, true
	}
	return 0, "", false
}

func expectRefusal(t *testing.T, what string, err error, code uint64, reason string) {
	t.Helper()
	got, msg, ok := refusal(err)
	if !ok {
		t.Fatalf("%s: got %v (%T), want a refusal with code %d", what, err, err, code)
	}
	if got != code || !strings.Contains(msg, reason) {
		t.Fatalf("%s: refused with code %d %q, want code %d mentioning %q", what, got, msg, code, reason)
	}
}

// runAgent runs a real agent client with the real probes until the test
// ends, and waits until it is connected.
func (h *harness) runAgent(t *testing.T, id *state.Identity, interval time.Duration) {
	t.Helper()
	c := &client.Client{
		ID:             id,
		Probes:         probe.NewSet(),
		Facts:          testFacts("real-agent"),
		Log:            slog.New(slog.DiscardHandler),
		HealthInterval: interval,
		// The tests' collectors ask for a health snapshot every 100 ms.
		MinHealthInterval: time.Millisecond,
	}
	runClient(t, c)
	waitUntil(t, "the agent to connect", func() bool {
		_, ok := h.srv.Connected()[id.AgentID]
		return ok
	})
}

// runClient runs c until the test ends, and checks that it stops then.
func runClient(t *testing.T, c *client.Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(patience):
			t.Errorf("agent client did not stop within %s", patience)
		}
	})
}

func TestEnroll(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	id := h.enroll(t, "enroll-host")

	if !protocol.ValidID(id.AgentID) {
		t.Errorf("agent ID %q is not valid", id.AgentID)
	}
	if id.Collector != h.addr {
		t.Errorf("identity names collector %q, want %q", id.Collector, h.addr)
	}
	if !id.CA.Equal(h.ca.Cert) {
		t.Error("identity pinned a CA other than the collector's")
	}
	leaf, err := x509.ParseCertificate(id.Cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: h.ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("agent certificate does not verify against the CA: %v", err)
	}
	if leaf.Subject.CommonName != id.AgentID {
		t.Errorf("certificate is for %q, identity is %q", leaf.Subject.CommonName, id.AgentID)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: h.ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("agent certificate is good for server authentication")
	}
	a, err := h.store.Agent(t.Context(), id.AgentID)
	if err != nil {
		t.Fatalf("enrolled agent is not in the store: %v", err)
	}
	if a.CertSerial != leaf.SerialNumber.Text(16) {
		t.Errorf("enrollment recorded certificate %q, issued %s", a.CertSerial, leaf.SerialNumber.Text(16))
	}
	if a.Facts.Hostname != "enroll-host" || a.EnrolledAt.IsZero() {
		t.Errorf("stored agent: %+v", a)
	}

	// A second enrollment gets a different identity.
	id2 := h.enroll(t, "enroll-host")
	if id2.AgentID == id.AgentID {
		t.Errorf("two enrollments got the same agent ID %s", id.AgentID)
	}
	h.checkServing(t, id)
	h.checkServing(t, id2)
}

func TestEnrollRefusesTokens(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)

	used := h.token(t, 1)
	if _, err := client.Enroll(timeout(t), t.TempDir(), h.addr, used, h.ca.Pin(), testFacts("first"), nil); err != nil {
		t.Fatalf("first use of the token: %v", err)
	}
	for _, tc := range []struct{ name, token string }{
		{"used", used},
		{"unknown", rand.Text()},
	} {
		dir := t.TempDir()
		_, err := client.Enroll(timeout(t), dir, h.addr, tc.token, h.ca.Pin(), testFacts(tc.name), nil)
		var perr *protocol.Error
		if !errors.As(err, &perr) {
			t.Fatalf("%s token: got %v, want the collector's refusal", tc.name, err)
		}
		if perr.Code != protocol.CodeUnauthorized || !strings.Contains(perr.Message, "token") {
			t.Errorf("%s token: refused with %v, want code 401 about the token", tc.name, perr)
		}
		if _, err := state.Load(dir); !errors.Is(err, state.ErrNotEnrolled) {
			t.Errorf("%s token: refused enrollment left an identity behind (%v)", tc.name, err)
		}
	}
	agents, err := h.store.Agents(t.Context())
	if err != nil || len(agents) != 1 {
		t.Errorf("store holds %d agents (%v), want the one enrolled", len(agents), err)
	}
}

func TestEnrollChecksPinBeforeDialing(t *testing.T) {
	t.Parallel()
	ca, _, err := pki.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := pki.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	// A stand-in collector that answers CA discovery and records anything
	// else it receives: a QUIC Initial would mean the agent dialed.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	answer, err := protocol.DiscoveryAnswer(ca.Cert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	const stop = "\x00stop"
	var stray atomic.Int32
	var discoveries atomic.Int32
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			switch {
			case string(buf[:n]) == stop:
				return
			case protocol.IsDiscoveryRequest(buf[:n]):
				discoveries.Add(1)
				pc.WriteTo(answer, from)
			default:
				stray.Add(1)
			}
		}
	}()

	for _, pin := range []string{
		other.Pin(),
		"sha256:" + strings.Repeat("0", 64),
		"sha256:abc",
		strings.TrimPrefix(ca.Pin(), "sha256:"),
	} {
		dir := t.TempDir()
		_, err := client.Enroll(timeout(t), dir, pc.LocalAddr().String(), "some-token", pin, testFacts("pinned"), nil)
		if err == nil || !strings.Contains(err.Error(), "pin") {
			t.Errorf("pin %q: Enroll returned %v, want a pin error", pin, err)
		}
		if _, err := state.Load(dir); !errors.Is(err, state.ErrNotEnrolled) {
			t.Errorf("pin %q: refused enrollment left an identity behind (%v)", pin, err)
		}
	}

	// Everything the agent sent was received before this marker.
	c, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(stop)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-finished:
	case <-time.After(patience):
		t.Fatal("stand-in collector did not see the marker")
	}
	if n := discoveries.Load(); n < 4 {
		t.Errorf("%d discovery requests for 4 enrollments", n)
	}
	if n := stray.Load(); n != 0 {
		t.Errorf("the agent sent %d non-discovery datagrams (a QUIC dial) with a wrong pin", n)
	}
}

func TestEnrollWrongPinKeepsToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	other, _, err := pki.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tok := h.token(t, 1)
	if _, err := client.Enroll(timeout(t), t.TempDir(), h.addr, tok, other.Pin(), testFacts("pinned"), nil); err == nil || !strings.Contains(err.Error(), "does not match the pin") {
		t.Fatalf("Enroll with another CA's pin: %v, want a pin mismatch", err)
	}
	if _, err := client.Enroll(timeout(t), t.TempDir(), h.addr, tok, h.ca.Pin(), testFacts("pinned"), nil); err != nil {
		t.Fatalf("the token did not survive an enrollment refused for its pin: %v", err)
	}
}

func TestEnrollRefusesBadCSR(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	tok := h.token(t, 1)

	csr := newCSR(t, newKey(t))
	if _, err := x509.ParseCertificateRequest(csr); err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(csr)
	bad[len(bad)-1] ^= 0xff // the last byte of the signature
	parsed, err := x509.ParseCertificateRequest(bad)
	if err != nil {
		t.Fatalf("corrupted CSR does not parse, so it does not test the signature check: %v", err)
	}
	if parsed.CheckSignature() == nil {
		t.Fatal("corrupted CSR still has a good signature")
	}

	for _, tc := range []struct {
		name, reason string
		csr          []byte
	}{
		{"bad signature", "signature", bad},
		{"not a CSR", "certificate request refused", []byte("definitely not DER")},
	} {
		conn, err := h.dial(t, nil)
		if err != nil {
			t.Fatalf("%s: dialing without a certificate: %v", tc.name, err)
		}
		_, err = exchange[*protocol.Enrolled](t, conn, frame(t, &protocol.Enroll{Token: tok, CSR: tc.csr, Facts: testFacts("bad-csr")}))
		var perr *protocol.Error
		if !errors.As(err, &perr) {
			t.Fatalf("%s: got %v, want the collector's refusal", tc.name, err)
		}
		if perr.Code != protocol.CodeBadRequest || !strings.Contains(perr.Message, tc.reason) {
			t.Errorf("%s: refused with %v, want code 400 mentioning %q", tc.name, perr, tc.reason)
		}
	}
	if agents, err := h.store.Agents(t.Context()); err != nil || len(agents) != 0 {
		t.Errorf("store holds %d agents after refused CSRs (%v)", len(agents), err)
	}
	// The refusals did not consume the token.
	if _, err := client.Enroll(timeout(t), t.TempDir(), h.addr, tok, h.ca.Pin(), testFacts("good-csr"), nil); err != nil {
		t.Fatalf("enrolling with the token after refused CSRs: %v", err)
	}
}

func TestAgentSession(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	id := h.enroll(t, "session-host")
	h.runAgent(t, id, 0)

	if got := h.srv.Connected(); len(got) != 1 {
		t.Errorf("Connected() = %v, want only %s", got, id.AgentID)
	}
	a, err := h.store.Agent(t.Context(), id.AgentID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Facts.Hostname != "real-agent" || a.LastSeen.IsZero() || !slices.Equal(a.Probes, probe.NewSet().Names()) {
		t.Errorf("hello did not update the agent: %+v", a)
	}

	// More requests than the agent allows concurrent streams, so that
	// finished streams must hand their credit back.
	for i := range 6 {
		ctx, cancel := context.WithTimeout(t.Context(), patience)
		sid, err := h.srv.RequestSnapshot(ctx, id.AgentID, []string{"memory"})
		cancel()
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		snap, err := h.store.Snapshot(t.Context(), sid)
		if err != nil {
			t.Fatalf("request %d: stored id %d: %v", i, sid, err)
		}
		if snap.AgentID != id.AgentID || snap.Kind != "full" || snap.RequestID == "" {
			t.Errorf("request %d: stored %+v", i, snap.Document)
		}
		if len(snap.Probes) != 1 || snap.Probes[0].Name != "memory" {
			t.Fatalf("request %d: probes %+v, want memory only", i, snap.Probes)
		}
		p := snap.Probes[0]
		var mem map[string]any
		if p.Error != "" || json.Unmarshal(p.Data, &mem) != nil || len(mem) == 0 {
			t.Errorf("request %d: memory probe: error %q, data %s", i, p.Error, p.Data)
		}
	}

	// A probe the agent does not have: the agent refuses, nothing stored.
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	if _, err := h.srv.RequestSnapshot(ctx, id.AgentID, []string{"no-such-probe"}); err == nil || !strings.Contains(err.Error(), "unknown probe") {
		t.Errorf("request for an unknown probe: %v, want the agent's refusal", err)
	}
	full, err := h.store.Snapshots(t.Context(), id.AgentID, store.SnapshotFilter{Kind: "full"})
	if err != nil || len(full) != 6 {
		t.Errorf("%d full snapshots stored (%v), want 6", len(full), err)
	}
}

func TestHealthSnapshots(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 100*time.Millisecond)
	id := h.enroll(t, "health-host")
	// The agent's own interval is an hour: only the collector's Welcome
	// can make it send more than the first health snapshot.
	h.runAgent(t, id, time.Hour)

	// More health snapshots than the collector allows concurrent streams
	// on a connection: each finished stream must hand its credit back.
	var list []store.Snapshot
	waitUntil(t, "nine health snapshots", func() bool {
		var err error
		list, err = h.store.Snapshots(t.Context(), id.AgentID, store.SnapshotFilter{Kind: "health"})
		if err != nil {
			t.Fatal(err)
		}
		return len(list) >= 9
	})
	snap, err := h.store.Snapshot(t.Context(), list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if snap.RequestID != "" {
		t.Errorf("health snapshot carries request ID %q", snap.RequestID)
	}
	var names []string
	for _, p := range snap.Probes {
		names = append(names, p.Name)
	}
	if !slices.Contains(names, "memory") || !slices.Contains(names, "cpu") {
		t.Errorf("health snapshot probes %v, want at least cpu and memory", names)
	}
}

func TestRequestSnapshotOffline(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	ctx := timeout(t)
	if _, err := h.srv.RequestSnapshot(ctx, "never-heard-of", nil); !errors.Is(err, ingest.ErrOffline) {
		t.Errorf("unknown agent: %v, want ErrOffline", err)
	}

	id := h.enroll(t, "offline-host")
	if _, err := h.srv.RequestSnapshot(ctx, id.AgentID, nil); !errors.Is(err, ingest.ErrOffline) {
		t.Errorf("enrolled agent that never connected: %v, want ErrOffline", err)
	}

	conn := h.connect(t, id)
	waitUntil(t, "the agent to be connected", func() bool {
		_, ok := h.srv.Connected()[id.AgentID]
		return ok
	})
	conn.CloseWithError(0, "going away")
	waitUntil(t, "the agent to be disconnected", func() bool {
		_, ok := h.srv.Connected()[id.AgentID]
		return !ok
	})
	if _, err := h.srv.RequestSnapshot(ctx, id.AgentID, nil); !errors.Is(err, ingest.ErrOffline) {
		t.Errorf("agent that hung up: %v, want ErrOffline", err)
	}
	if n := h.obs.connectedCount(); n != 0 {
		t.Errorf("observer counts %d connected agents, want 0", n)
	}
}

// answerRequests serves the collector's requests on conn, answering each
// with the snapshot made by answer (nil: read the request, never answer).
// Each request is sent on reqs as it arrives.
func answerRequests(ctx context.Context, conn transport.Conn, reqs chan<- *protocol.SnapshotRequest, answer func(*protocol.SnapshotRequest) *protocol.Snapshot) {
	for {
		str, err := conn.AcceptStream(ctx)
		if err != nil {
			return
		}
		go func() {
			req, err := protocol.ReadAs[*protocol.SnapshotRequest](str)
			if err != nil {
				str.CancelRead(1)
				str.CancelWrite(1)
				return
			}
			select {
			case reqs <- req:
			default:
			}
			if answer == nil {
				return // hold the stream open and silent
			}
			protocol.Write(str, answer(req))
			io.Copy(io.Discard, str) // the ack, then the end of the stream
			str.Close()
		}()
	}
}

// received returns the next request answerRequests passed on, failing the
// test when none comes within patience (a RequestSnapshot that returned
// without sending one).
func received(t *testing.T, reqs <-chan *protocol.SnapshotRequest) *protocol.SnapshotRequest {
	t.Helper()
	select {
	case req := <-reqs:
		return req
	case <-time.After(patience):
		t.Fatal("the agent never saw the request")
		return nil
	}
}

func TestRequestSnapshotDeadline(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	id := h.enroll(t, "silent-host")
	conn := h.connect(t, id)
	reqs := make(chan *protocol.SnapshotRequest, 16)
	go answerRequests(t.Context(), conn, reqs, nil)
	waitUntil(t, "the agent to be connected", func() bool {
		_, ok := h.srv.Connected()[id.AgentID]
		return ok
	})

	for i := range 5 {
		deadline := time.Now().Add(300 * time.Millisecond)
		ctx, cancel := context.WithDeadline(t.Context(), deadline)
		_, err := h.srv.RequestSnapshot(ctx, id.AgentID, []string{"memory"})
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("attempt %d: RequestSnapshot to a silent agent: %v, want context.DeadlineExceeded", i, err)
		}
		select {
		case req := <-reqs:
			if req.Deadline != deadline.UnixMilli() || !slices.Equal(req.Probes, []string{"memory"}) {
				t.Errorf("attempt %d: request %+v, want deadline %d and probes [memory]", i, req, deadline.UnixMilli())
			}
		case <-time.After(patience):
			t.Fatalf("attempt %d: the agent never saw the request", i)
		}
	}

	// The connection is still up.
	if _, ok := h.srv.Connected()[id.AgentID]; !ok {
		t.Error("the agent was dropped after an unanswered request")
	}
	if conn.Context().Err() != nil {
		t.Errorf("connection closed: %v", context.Cause(conn.Context()))
	}
}

func TestRequestSnapshotAnswers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	id := h.enroll(t, "answering-host")
	conn := h.connect(t, id)
	waitUntil(t, "the agent to be connected", func() bool {
		_, ok := h.srv.Connected()[id.AgentID]
		return ok
	})

	var mode atomic.Value
	mode.Store("good")
	reqs := make(chan *protocol.SnapshotRequest, 16)
	go answerRequests(t.Context(), conn, reqs, func(req *protocol.SnapshotRequest) *protocol.Snapshot {
		s := h.snapshot(id.AgentID)
		s.Kind = protocol.KindFull
		s.RequestID = req.RequestID
		switch mode.Load() {
		case "other request":
			s.RequestID = "not-" + req.RequestID
		case "other agent":
			s.AgentID = "someone-else"
		}
		return s
	})
	for _, tc := range []struct{ mode, errText string }{
		{"other request", "answered request"},
		{"other agent", "snapshot names agent"},
		{"good", ""},
	} {
		mode.Store(tc.mode)
		ctx, cancel := context.WithTimeout(t.Context(), patience)
		sid, err := h.srv.RequestSnapshot(ctx, id.AgentID, nil)
		cancel()
		if tc.errText == "" {
			if err != nil {
				t.Fatalf("%s answer: %v", tc.mode, err)
			}
			snap, err := h.store.Snapshot(t.Context(), sid)
			if err != nil || snap.AgentID != id.AgentID || snap.Kind != "full" {
				t.Fatalf("%s answer: stored %+v, %v", tc.mode, snap, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.errText) {
			t.Errorf("%s answer: %v, want an error mentioning %q", tc.mode, err, tc.errText)
		}
	}
	full, err := h.store.Snapshots(t.Context(), id.AgentID, store.SnapshotFilter{Kind: "full"})
	if err != nil || len(full) != 1 {
		t.Errorf("%d full snapshots stored (%v), want only the good answer", len(full), err)
	}
}

func TestManySnapshotsOnOneConnection(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	id := h.enroll(t, "busy-host")
	conn := h.connect(t, id)
	// Three times the collector's stream limit: each stream the agent
	// finishes must give its credit back, whether the agent closes its side
	// after reading the ack (as the agent does) or before.
	for i := range 24 {
		snap := h.snapshot(id.AgentID)
		if i%2 == 0 {
			h.push(t, conn, snap)
			continue
		}
		if _, err := exchangeEOF[*protocol.Ack](t, conn, frame(t, snap)); err != nil {
			t.Fatalf("snapshot %d: %v", i, err)
		}
	}
	list, err := h.store.Snapshots(t.Context(), id.AgentID, store.SnapshotFilter{})
	if err != nil || len(list) != 24 {
		t.Errorf("%d snapshots stored (%v), want 24", len(list), err)
	}
}

func TestDuplicateSnapshot(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	id := h.enroll(t, "retrying-host")
	conn := h.connect(t, id)
	snap := h.snapshot(id.AgentID)
	if ack := h.push(t, conn, snap); ack.Duplicate {
		t.Error("first delivery acked as a duplicate")
	}
	if ack := h.push(t, conn, snap); !ack.Duplicate {
		t.Error("second delivery not acked as a duplicate")
	}
	list, err := h.store.Snapshots(t.Context(), id.AgentID, store.SnapshotFilter{})
	if err != nil || len(list) != 1 {
		t.Errorf("%d snapshots stored (%v), want 1", len(list), err)
	}
	if fresh, dup := h.obs.ingestedCount("health"), h.obs.ingestedCount("health/duplicate"); fresh != 1 || dup != 1 {
		t.Errorf("observer saw %d new and %d duplicate health snapshots, want 1 and 1", fresh, dup)
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	good := h.enroll(t, "good-host")
	h.checkServing(t, good)

	t.Run("certificate from another CA", func(t *testing.T) {
		other, _, err := pki.LoadOrCreate(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		conn, err := h.dial(t, certFrom(t, other, good.AgentID))
		if err == nil {
			// The client may finish its side of the handshake before the
			// server has checked the certificate; the refusal then
			// closes the connection.
			_, err = exchange[*protocol.Welcome](t, conn, frame(t, helloFor(good.AgentID)))
		}
		var te *quic.TransportError
		if !errors.As(err, &te) || !te.Remote || !te.ErrorCode.IsCryptoError() {
			t.Fatalf("got %v (%T), want a TLS alert from the collector", err, err)
		}
		h.checkServing(t, good)
	})

	t.Run("certificate for an agent not enrolled", func(t *testing.T) {
		conn, err := h.dial(t, certFrom(t, h.ca, "never-enrolled"))
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		_, err = exchange[*protocol.Welcome](t, conn, frame(t, helloFor("never-enrolled")))
		expectRefusal(t, "hello", err, protocol.CodeUnauthorized, "not enrolled")
		select {
		case <-conn.Context().Done():
		case <-time.After(patience):
			t.Fatal("the collector kept the connection of an agent it refused")
		}
		if _, ok := h.srv.Connected()["never-enrolled"]; ok {
			t.Error("refused agent is listed as connected")
		}
		h.checkServing(t, good)
	})

	t.Run("hello for another agent", func(t *testing.T) {
		now := time.Now()
		tok := h.token(t, 1)
		if err := h.store.Enroll(t.Context(), ingest.TokenHash(tok), now, store.Agent{ID: "victim", Facts: testFacts("victim"), EnrolledAt: now}); err != nil {
			t.Fatal(err)
		}
		conn, err := h.dial(t, &good.Cert)
		if err != nil {
			t.Fatal(err)
		}
		_, err = exchange[*protocol.Welcome](t, conn, frame(t, helloFor("victim")))
		expectRefusal(t, "hello", err, protocol.CodeUnauthorized, "certificate is for")
		select {
		case <-conn.Context().Done():
		case <-time.After(patience):
			t.Fatal("the collector kept the connection after a mismatched hello")
		}
		a, err := h.store.Agent(t.Context(), "victim")
		if err != nil {
			t.Fatal(err)
		}
		if !a.LastSeen.IsZero() || a.Facts.Hostname != "victim" {
			t.Errorf("a mismatched hello updated the other agent: %+v", a)
		}
		if _, ok := h.srv.Connected()["victim"]; ok {
			t.Error("impersonated agent is listed as connected")
		}
		h.checkServing(t, good)
	})

	t.Run("bad frames after hello", func(t *testing.T) {
		conn := h.connect(t, good)
		before := h.obs.failures("decode")
		oversize := []byte{'S', protocol.Version, byte(protocol.TypeSnapshot), 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(oversize[4:], protocol.MaxFrameSize+1)
		truncated := frame(t, h.snapshot(good.AgentID))
		truncated = truncated[:len(truncated)-5]
		// A renew is at most 32 KiB decoded (see protocol.LimitsOf): one
		// that inflates to 64 KiB is refused as the agent refuses an
		// oversized request.
		zeros, err := protocol.Deflate(make([]byte, 64<<10))
		if err != nil {
			t.Fatal(err)
		}
		inflating := binary.BigEndian.AppendUint32([]byte{'S', protocol.Version, byte(protocol.TypeRenew), protocol.FlagDeflate}, uint32(len(zeros)))
		inflating = append(inflating, zeros...)
		cases := []struct {
			name, reason string
			raw          []byte
		}{
			{"garbage", "malformed frame", []byte("GET / HTTP/1.1\r\nHost: collector\r\n\r\n")},
			{"oversize", "frame too large", oversize},
			{"small message inflating past its limit", "renew of more than 32 KiB decoded", inflating},
			{"truncated", "malformed frame", truncated},
			{"wrong message", "want snapshot", frame(t, helloFor(good.AgentID))},
			{"invalid snapshot", "invalid message", func() []byte {
				s := h.snapshot(good.AgentID)
				s.Probes[0].Data = []byte(`{"not json"`)
				return frame(t, s)
			}()},
			{"empty", "EOF", nil},
		}
		for _, tc := range cases {
			_, err := exchangeEOF[*protocol.Ack](t, conn, tc.raw)
			var perr *protocol.Error
			if !errors.As(err, &perr) {
				t.Fatalf("%s: got %v, want a protocol.Error", tc.name, err)
			}
			if perr.Code != protocol.CodeBadRequest || !strings.Contains(perr.Message, tc.reason) {
				t.Errorf("%s: refused with %v, want code 400 mentioning %q", tc.name, perr, tc.reason)
			}
		}
		if n := h.obs.failures("decode") - before; n != len(cases) {
			t.Errorf("observer saw %d decode failures, want %d", n, len(cases))
		}
		// The same connection still delivers.
		if conn.Context().Err() != nil {
			t.Fatalf("bad frames closed the connection: %v", context.Cause(conn.Context()))
		}
		snap := h.snapshot(good.AgentID)
		h.push(t, conn, snap)
		if !h.stored(t, snap) {
			t.Error("snapshot after bad frames not stored")
		}
		h.checkServing(t, good)
	})

	t.Run("snapshot for another agent", func(t *testing.T) {
		conn := h.connect(t, good)
		before := h.obs.failures("identity")
		snap := h.snapshot("victim")
		_, err := exchange[*protocol.Ack](t, conn, frame(t, snap))
		expectRefusal(t, "snapshot", err, protocol.CodeUnauthorized, "snapshot names agent")
		if h.stored(t, snap) {
			t.Error("snapshot naming another agent was stored")
		}
		if n := h.obs.failures("identity") - before; n != 1 {
			t.Errorf("observer saw %d identity failures, want 1", n)
		}
		if conn.Context().Err() != nil {
			t.Fatalf("the refusal closed the connection: %v", context.Cause(conn.Context()))
		}
		h.checkServing(t, good)
	})
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	c, err := net.Dial("udp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 2048)

	// ask sends req and reads one datagram within wait.
	ask := func(req []byte, wait time.Duration) ([]byte, error) {
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(wait))
		n, err := c.Read(buf)
		return buf[:n], err
	}
	// The first requests may go unanswered while the server starts, and
	// answers are rate limited: ask until one comes back.
	discover := func() {
		t.Helper()
		var answer []byte
		waitUntil(t, "a CA discovery answer", func() bool {
			b, err := ask(protocol.DiscoveryRequest(), 100*time.Millisecond)
			answer = b
			return err == nil
		})
		if len(answer) > protocol.DiscoveryRequestSize {
			t.Errorf("answer is %d bytes, larger than the %d byte request", len(answer), protocol.DiscoveryRequestSize)
		}
		ca, err := protocol.ParseDiscoveryAnswer(answer)
		if err != nil {
			t.Fatalf("discovery answer: %v", err)
		}
		if !ca.Equal(h.ca.Cert) {
			t.Fatal("discovery answered with a certificate other than the CA")
		}
		if protocol.CheckPin(ca, h.ca.Pin()) != nil {
			t.Error("discovered CA does not match the CA's pin")
		}
	}
	discover()

	full := protocol.DiscoveryRequest()
	wrongMagic := bytes.Clone(full)
	wrongMagic[len("\x00SONDE-CA?")] = '2'
	for _, tc := range []struct {
		name string
		req  []byte
	}{
		{"one byte short", full[:protocol.DiscoveryRequestSize-1]},
		{"magic only", full[:16]},
		{"wrong version", wrongMagic},
		{"one byte short again", full[:protocol.DiscoveryRequestSize-1]},
	} {
		b, err := ask(tc.req, 300*time.Millisecond)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("%s: got a %d byte answer (%v), want none", tc.name, len(b), err)
		}
	}
	// The server still answers good requests.
	discover()
}

func TestOneConnectionPerAgent(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	id := h.enroll(t, "roaming-host")

	first := h.connect(t, id)
	var since time.Time
	waitUntil(t, "the first connection to register", func() bool {
		link, ok := h.srv.Connected()[id.AgentID]
		since = link.Since
		return ok
	})

	second := h.connect(t, id)
	waitUntil(t, "the second connection to replace the first", func() bool {
		got, ok := h.srv.Connected()[id.AgentID]
		return ok && got.Since.After(since)
	})
	select {
	case <-first.Context().Done():
	case <-time.After(patience):
		t.Fatal("the replaced connection is still open")
	}
	var appErr *transport.ApplicationError
	if err := context.Cause(first.Context()); !errors.As(err, &appErr) || !appErr.Remote || appErr.Code != protocol.CodeUnavailable {
		t.Errorf("replaced connection closed with %v, want the collector's code %d", err, protocol.CodeUnavailable)
	}
	if got := h.srv.Connected(); len(got) != 1 {
		t.Errorf("Connected() = %v, want one entry", got)
	}
	if n := h.obs.connectedCount(); n != 1 {
		t.Errorf("observer counts %d connected agents, want 1", n)
	}

	// Requests reach the second connection, which still delivers.
	reqs := make(chan *protocol.SnapshotRequest, 4)
	go answerRequests(t.Context(), second, reqs, func(req *protocol.SnapshotRequest) *protocol.Snapshot {
		s := h.snapshot(id.AgentID)
		s.Kind = protocol.KindFull
		s.RequestID = req.RequestID
		return s
	})
	ctx := timeout(t)
	if _, err := h.srv.RequestSnapshot(ctx, id.AgentID, nil); err != nil {
		t.Fatalf("request after the replacement: %v", err)
	}
	snap := h.snapshot(id.AgentID)
	h.push(t, second, snap)
	if second.Context().Err() != nil {
		t.Errorf("second connection closed: %v", context.Cause(second.Context()))
	}
	if _, ok := h.srv.Connected()[id.AgentID]; !ok {
		t.Error("the agent is no longer listed as connected")
	}
}

// TestEnrollRace: fifty machines enrolling at once with one single-use
// token: exactly one gets in; an expired token admits nobody.
func TestEnrollRace(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 0)
	token := h.token(t, 1)
	var wg sync.WaitGroup
	var admitted atomic.Int32
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := client.Enroll(timeout(t), t.TempDir(), h.addr, token, h.ca.Pin(), testFacts(fmt.Sprint("racer-", i)), nil); err == nil {
				admitted.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := admitted.Load(); n != 1 {
		t.Fatalf("%d enrollments admitted with a single-use token, want 1", n)
	}
	agents, err := h.store.Agents(t.Context())
	if err != nil || len(agents) != 1 {
		t.Fatalf("store holds %d agents (%v), want 1", len(agents), err)
	}

	expired := rand.Text()
	now := time.Now()
	if err := h.store.CreateToken(t.Context(), store.Token{Hash: ingest.TokenHash(expired), CreatedAt: now.Add(-2 * time.Hour),
		ExpiresAt: now.Add(-time.Hour), Uses: 5, CreatedBy: "test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Enroll(timeout(t), t.TempDir(), h.addr, expired, h.ca.Pin(), testFacts("late"), nil); err == nil {
		t.Fatal("an expired token admitted an agent")
	}
}

// TestRenewal: an agent whose certificate is two thirds through its life
// gets a new one, for a fresh key, over its connection, keeps it in its
// state dir, and connects with it.
func TestRenewal(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, func(c *ingest.Config) { c.CertValidity = 20 * time.Second })
	dir := t.TempDir()
	if _, err := client.Enroll(timeout(t), dir, h.addr, h.token(t, 1), h.ca.Pin(), testFacts("renewing"), nil); err != nil {
		t.Fatal(err)
	}
	id, err := state.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	old := id.Cert.Certificate[0]
	ctx, cancel := context.WithCancel(context.Background())
	c := &client.Client{ID: id, Probes: probe.NewSet(), Log: slog.New(slog.DiscardHandler), StateDir: dir}
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	// One minute of back-dating plus 20 s of life: due at once.
	waitUntil(t, "the certificate to be renewed on disk", func() bool {
		now, err := state.Load(dir)
		return err == nil && !bytes.Equal(now.Cert.Certificate[0], old)
	})
	renewed, _ := state.Load(dir)
	oldLeaf, _ := x509.ParseCertificate(old)
	newLeaf, _ := x509.ParseCertificate(renewed.Cert.Certificate[0])
	if newLeaf.Subject.CommonName != id.AgentID || newLeaf.PublicKey.(*ecdsa.PublicKey).Equal(oldLeaf.PublicKey) {
		t.Fatalf("renewed certificate: CN %q, same key: %v", newLeaf.Subject.CommonName, newLeaf.PublicKey.(*ecdsa.PublicKey).Equal(oldLeaf.PublicKey))
	}
	// The collector recorded the certificate it issued.
	if a, err := h.store.Agent(t.Context(), id.AgentID); err != nil || a.CertSerial != newLeaf.SerialNumber.Text(16) {
		t.Errorf("stored certificate serial %q (%v), want %s", a.CertSerial, err, newLeaf.SerialNumber.Text(16))
	}
	// The renewed identity connects on its own.
	h.connect(t, renewed)
}
