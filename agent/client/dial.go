// Package client connects the agent to its collector: enrollment, then one
// long-lived QUIC connection that answers snapshot requests and carries the
// periodic health snapshots.
package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sondehq/sonde/internal/transport"
	tquic "github.com/sondehq/sonde/internal/transport/quic"
	"github.com/sondehq/sonde/protocol"
)

// DefaultPort is the collector's QUIC port.
const DefaultPort = "7443"

// quicConfig keeps the agent's footprint small: few streams, small windows.
// Keep-alives every 5 s hold NAT bindings open (some expire UDP after 30 s)
// and let the collector tell a dead agent from a quiet one within seconds
// (it drops a connection silent for its 12 s idle timeout, and answers
// requests to one silent for 10 s with "not answering"). Both sides use
// the smaller idle timeout offered: 12 s with a current collector, 15 s
// with an older one offering 60 s. So a dead collector is noticed within
// that too: a restarted collector cannot always reset the old connection,
// since QUIC does not answer packets as small as a keep-alive with a
// stateless reset.
func quicConfig() *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout:           10 * time.Second,
		MaxIdleTimeout:                 15 * time.Second,
		KeepAlivePeriod:                5 * time.Second,
		MaxIncomingStreams:             4,
		MaxIncomingUniStreams:          -1,
		InitialStreamReceiveWindow:     64 << 10,
		MaxStreamReceiveWindow:         256 << 10,
		InitialConnectionReceiveWindow: 128 << 10,
		MaxConnectionReceiveWindow:     512 << 10,
	}
}

// NormalizeAddr adds the default port to a collector address without one.
func NormalizeAddr(addr string) (string, error) {
	if addr == "" {
		return "", errors.New("no collector address")
	}
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr, nil
	}
	if ip := net.ParseIP(addr); ip != nil || !containsColon(addr) {
		return net.JoinHostPort(addr, DefaultPort), nil
	}
	return "", fmt.Errorf("collector address %q is not HOST:PORT", addr)
}

func containsColon(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return true
		}
	}
	return false
}

// tlsConfig verifies the collector against the pinned CA only, and
// presents cert when given.
func tlsConfig(addr string, ca *x509.Certificate, cert *tls.Certificate) (*tls.Config, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("finding the collector's host name: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	c := &tls.Config{
		MinVersion: tls.VersionTLS13,
		RootCAs:    pool,
		ServerName: host,
		NextProtos: []string{protocol.ALPN},
	}
	if cert != nil {
		c.Certificates = []tls.Certificate{*cert}
	}
	return c, nil
}

// dial opens a QUIC connection to addr. Its error names addr.
func dial(ctx context.Context, addr string, tc *tls.Config) (transport.Conn, error) {
	conn, err := tquic.Dial(ctx, addr, tc, quicConfig())
	if err != nil {
		var certErr x509.HostnameError
		if errors.As(err, &certErr) {
			return nil, fmt.Errorf("connecting to %s: %w (start the collector with --san %s)", addr, err, tc.ServerName)
		}
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	return conn, nil
}

// exchange sends req on a new stream and reads one answer of type T.
func exchange[T protocol.Message](ctx context.Context, conn transport.Conn, req protocol.Message, timeout time.Duration) (T, error) {
	var zero T
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	str, err := conn.OpenStream(ctx)
	if err != nil {
		return zero, fmt.Errorf("opening a stream: %w", err)
	}
	defer str.Close()
	defer str.CancelRead(0) // one answer is all we read; see Client.answer
	defer unblockOnDone(ctx, str)()
	str.SetDeadline(time.Now().Add(timeout))
	if err := protocol.Write(str, req); err != nil {
		return zero, fmt.Errorf("sending the request: %w", err)
	}
	return protocol.ReadAs[T](str)
}

// unblockOnDone makes str's reads and writes fail at once when ctx ends:
// a stream's deadline does not watch a context. Call the function it
// returns when done with str.
func unblockOnDone(ctx context.Context, str transport.Stream) (stop func() bool) {
	return context.AfterFunc(ctx, func() {
		str.CancelRead(0)
		str.CancelWrite(0)
	})
}
