package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"log/slog"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/spool"
	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/agent/status"
	"github.com/sondehq/sonde/protocol"
)

// TestRetryWait: the waits between connection attempts double from about
// a second and never exceed a minute, jitter included.
func TestRetryWait(t *testing.T) {
	lowest := func(int64) int64 { return 0 }
	highest := func(n int64) int64 { return n - 1 }
	for _, tc := range []struct {
		attempt int
		min     time.Duration // inclusive
		max     time.Duration // exclusive
	}{
		{1, 500 * time.Millisecond, 1500 * time.Millisecond},
		{2, time.Second, 3 * time.Second},
		{3, 2 * time.Second, 6 * time.Second},
		{4, 4 * time.Second, 12 * time.Second},
		{5, 8 * time.Second, 24 * time.Second},
		{6, 16 * time.Second, 48 * time.Second},
		{7, 30 * time.Second, time.Minute}, // 64 s capped at 60 s
		{8, 30 * time.Second, time.Minute},
		{20, 30 * time.Second, time.Minute},
	} {
		b := minBackoff
		for range tc.attempt - 1 {
			b = min(2*b, maxBackoff) // as Run does
		}
		if got := retryWait(b, lowest); got != tc.min {
			t.Errorf("attempt %d (backoff %s): shortest wait %s, want %s", tc.attempt, b, got, tc.min)
		}
		if got := retryWait(b, highest); got != tc.max-1 {
			t.Errorf("attempt %d (backoff %s): longest wait %s, want just under %s", tc.attempt, b, got, tc.max)
		}
		for range 1000 {
			if got := retryWait(b, mrand.Int64N); got < tc.min || got >= tc.max || got > time.Minute {
				t.Fatalf("attempt %d (backoff %s): wait %s outside [%s, %s)", tc.attempt, b, got, tc.min, tc.max)
			}
		}
	}
}

// testIdentity is an identity with a CA and a certificate it signed, for a
// collector at addr.
func testIdentity(t *testing.T, addr string) *state.Identity {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "agent-1"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &state.Identity{Config: state.Config{AgentID: "agent-1", Collector: addr},
		Cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: ca}, CA: ca}
}

// blackHole is a UDP address that takes packets and never answers: a
// collector behind a partition.
func blackHole(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.LocalAddr().String()
}

// TestRunEnds: Run returns nil soon after its context is canceled, with
// every goroutine it started ended; a second Run at the same time is
// refused; the client runs again after, as a new boot; a deadline is
// returned as the error it is.
func TestRunEnds(t *testing.T) {
	old := faultProbeTimeout
	faultProbeTimeout = time.Second
	t.Cleanup(func() { faultProbeTimeout = old })
	sp, err := spool.Open(t.TempDir(), 0, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	statusDir := t.TempDir()
	c := &Client{ID: testIdentity(t, blackHole(t)), Probes: probe.NewSet(), Log: slog.New(slog.DiscardHandler),
		Spool: sp, HealthInterval: time.Hour, StatusDir: statusDir}
	before := goleak.IgnoreCurrent()

	run := func(ctx context.Context) (epoch int64, err error) {
		t.Helper()
		taken := c.Delivery().Taken
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		deadline := time.Now().Add(10 * time.Second)
		for c.Delivery().Taken == taken {
			if time.Now().After(deadline) {
				t.Fatal("no health snapshot taken")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := c.Run(ctx); !errors.Is(err, ErrRunning) {
			t.Errorf("a second Run while running: %v, want ErrRunning", err)
		}
		epoch = c.bootEpoch
		select {
		case err = <-done:
		case <-time.After(15 * time.Second):
			t.Fatal("Run did not return")
		}
		return epoch, err
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	first, err := run(ctx)
	if err != nil {
		t.Fatalf("Run after cancel: %v, want nil", err)
	}
	goleak.VerifyNone(t, before)
	if s, err := status.Read(statusDir); err != nil || !s.Stopped {
		t.Fatalf("status after Run: %+v, %v", s, err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	second, err := run(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run after its deadline: %v, want context.DeadlineExceeded", err)
	}
	if second <= first {
		t.Errorf("second run's boot epoch %d, first %d: want a later one", second, first)
	}
	goleak.VerifyNone(t, before)
	if n, _, _, _ := sp.Stats(); n < 2 {
		t.Errorf("%d snapshots spooled, want one for each run at least", n)
	}
}

// TestRunRefusesNoIdentity: Run says what keeps it from running.
func TestRunRefusesNoIdentity(t *testing.T) {
	if err := (&Client{Probes: probe.NewSet()}).Run(t.Context()); err == nil {
		t.Fatal("Run without an identity returned nil")
	}
}

// TestEnrollEndsWithContext: enrollment with a collector that never
// answers gives up when its context ends, not after its read deadline
// (a second for the first try) or its retries.
func TestEnrollEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := Enroll(ctx, t.TempDir(), blackHole(t), "token", "sha256:00", protocol.Facts{Hostname: "test"}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Enroll: %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > 700*time.Millisecond {
		t.Fatalf("Enroll returned %s after it started, its context ended after 100 ms", took)
	}
}
