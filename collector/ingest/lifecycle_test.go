package ingest_test

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sondehq/sonde/collector/ingest"
	"github.com/sondehq/sonde/collector/pki"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/protocol"
)

// failingRevocations is a store that cannot list revocations; nothing else
// is called before Listen fails.
type failingRevocations struct{ store.Store }

func (failingRevocations) Revoked(context.Context) ([]string, error) {
	return nil, errors.New("database is locked")
}

// freeUDP returns a loopback UDP address that was free a moment ago.
func freeUDP(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// mustBind fails the test unless addr's UDP port can be bound: nothing in
// this process holds it any more.
func mustBind(t *testing.T, addr string) {
	t.Helper()
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("the UDP socket on %s is still open: %v", addr, err)
	}
	c.Close()
}

// TestListenReleasesSocketOnError: when Listen fails after it opened the
// UDP socket (the revocation list cannot be read), the socket is closed.
func TestListenReleasesSocketOnError(t *testing.T) {
	ca, _, err := pki.LoadOrCreate(filepath.Join(t.TempDir(), "ca"))
	if err != nil {
		t.Fatal(err)
	}
	addr := freeUDP(t)
	srv, err := ingest.Listen(ingest.Config{Addr: addr, Hosts: []string{"127.0.0.1"}, CA: ca,
		Store: failingRevocations{}, Log: slog.New(slog.DiscardHandler)})
	if err == nil {
		srv.Close()
		t.Fatal("Listen succeeded with a store that cannot list revocations")
	}
	t.Logf("Listen: %v", err)
	mustBind(t, addr)
}

// TestCloseWithoutServe: a server that never serves releases its socket on
// Close, and refuses to serve after.
func TestCloseWithoutServe(t *testing.T) {
	h := newHarness(t, 0)
	addr := freeUDP(t)
	srv, err := ingest.Listen(ingest.Config{Addr: addr, Hosts: []string{"127.0.0.1"}, CA: h.ca, Store: h.store, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	mustBind(t, addr)
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// drainHarness is a second server, on the harness's CA and a gated store,
// whose Serve the test stops itself. A drain of 0 leaves the default.
func drainHarness(t *testing.T, drain time.Duration) (h, h2 *harness, gs *gatedStore, stop func() error) {
	t.Helper()
	h = newHarness(t, 0)
	gs = &gatedStore{Store: h.store}
	logs := new(syncBuffer)
	srv, err := ingest.Listen(ingest.Config{Addr: "127.0.0.1:0", Hosts: []string{"127.0.0.1"}, CA: h.ca, Store: gs,
		Log: slog.New(slog.NewTextHandler(logs, nil)), DrainTimeout: drain})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	stopped := false
	stop = func() error {
		stopped = true
		cancel()
		select {
		case err := <-served:
			return err
		case <-time.After(patience):
			t.Fatalf("Serve did not return within %s of its context ending", patience)
			return nil
		}
	}
	t.Cleanup(func() {
		if !stopped {
			stop()
		}
		if t.Failed() {
			t.Logf("draining server's log:\n%s", logs)
		}
	})
	return h, &harness{ca: h.ca, store: h.store, srv: srv, addr: srv.Addr().String(), obs: h.obs}, gs, stop
}

// reachStore waits until the snapshot whose exchange ends on acked waits
// at gs's gate, and fails at once should the exchange end first (the
// collector turned it away).
func reachStore(t *testing.T, gs *gatedStore, acked <-chan error) {
	t.Helper()
	waitUntil(t, "the snapshot to reach the store", func() bool {
		select {
		case err := <-acked:
			t.Fatalf("the snapshot was answered (%v) before it reached the store", err)
		default:
		}
		return gs.waiting()
	})
}

// TestServeDrains: a snapshot being stored when Serve's context ends is
// stored and acked before Serve returns; meanwhile no new connection is
// accepted, and afterwards the agent is told the collector is shutting
// down and the socket is released. The drain timeout is the default (a
// zero Config.DrainTimeout), which leaves the store seconds to finish.
func TestServeDrains(t *testing.T) {
	h, h2, gs, stop := drainHarness(t, 0)
	id := h.enroll(t, "draining")
	conn := h2.connect(t, id)
	snap := h2.snapshot(id.AgentID)
	gs.hold(id.AgentID)
	acked := make(chan error, 1)
	go func() {
		_, err := exchange[*protocol.Ack](t, conn, frame(t, snap))
		acked <- err
	}()
	reachStore(t, gs, acked)

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	waitUntil(t, "new connections to be turned away", func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		c, err := quic.DialAddr(ctx, h2.addr, &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: h.ca.Pool(),
			ServerName: "127.0.0.1", NextProtos: []string{protocol.ALPN}, Certificates: []tls.Certificate{id.Cert}}, nil)
		if err == nil {
			c.CloseWithError(0, "")
		}
		return err != nil
	})
	select {
	case err := <-stopped:
		t.Fatalf("Serve returned (%v) with a snapshot still being stored", err)
	default:
	}
	gs.open()
	if err := <-acked; err != nil {
		t.Fatalf("the snapshot in flight was not acked: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if !h.stored(t, snap) {
		t.Fatal("the acked snapshot is not stored")
	}
	select {
	case <-conn.Context().Done():
	case <-time.After(patience):
		t.Fatal("the agent's connection is still open after Serve returned")
	}
	expectRefusal(t, "the connection's end", context.Cause(conn.Context()), protocol.CodeUnavailable, "shutting down")
	mustBind(t, h2.addr)
}

// TestServeDrainTimeout: a snapshot the store holds past the drain timeout
// is cut, not acked (the agent keeps it in its spool), and Serve returns
// soon after the timeout.
func TestServeDrainTimeout(t *testing.T) {
	const drain = 300 * time.Millisecond
	h, h2, gs, stop := drainHarness(t, drain)
	id := h.enroll(t, "stuck")
	conn := h2.connect(t, id)
	snap := h2.snapshot(id.AgentID)
	gs.hold(id.AgentID)
	defer gs.open()
	acked := make(chan error, 1)
	go func() {
		_, err := exchange[*protocol.Ack](t, conn, frame(t, snap))
		acked <- err
	}()
	reachStore(t, gs, acked)
	began := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if took := time.Since(began); took < drain || took > drain+2*time.Second {
		t.Errorf("Serve returned %s after its context ended, drain timeout %s", took, drain)
	}
	if err := <-acked; err == nil {
		t.Fatal("a snapshot cut at the drain timeout was acked")
	}
	if h.stored(t, snap) {
		t.Fatal("a snapshot cut at the drain timeout is stored")
	}
	mustBind(t, h2.addr)
}
