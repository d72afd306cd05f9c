// Package client connects the agent to its collector: enrollment, then one
// long-lived connection that answers snapshot requests and carries the
// periodic health snapshots. The connection is QUIC, or TLS over TCP on
// networks that block UDP: the dialer races them (race.go); the rest of the
// package speaks internal/transport and does not know which is in use.
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

	"github.com/sondehq/sonde/agent/proxy"
	"github.com/sondehq/sonde/internal/transport"
	tquic "github.com/sondehq/sonde/internal/transport/quic"
	"github.com/sondehq/sonde/internal/transport/tcp"
	"github.com/sondehq/sonde/protocol"
)

// DefaultPort is the collector's port: QUIC on UDP, and the TCP fallback
// on the same number.
const DefaultPort = "7443"

// QUICConfig keeps the agent's footprint small: few streams, small windows.
// Keep-alives every 5 s hold NAT bindings open (some expire UDP after 30 s)
// and let the collector tell a dead agent from a quiet one within seconds
// (it drops a connection silent for its 12 s idle timeout, and answers
// requests to one silent for 10 s with "not answering"). Both sides use
// the smaller idle timeout offered: 12 s with a current collector, 15 s
// with an older one offering 60 s. So a dead collector is noticed within
// that too: a restarted collector cannot always reset the old connection,
// since QUIC does not answer packets as small as a keep-alive with a
// stateless reset. It is exported for tools that must look like agents on
// the wire (sonde-loadgen's simulated fleet); each call returns a new one.
func QUICConfig() *quic.Config {
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

// tcpConfig is QUICConfig's counterpart for the TCP fallback: the same
// keep-alive and idle timeout (the smaller of the two sides' applies, as in
// QUIC), few streams, small windows.
func tcpConfig() *tcp.Config {
	return &tcp.Config{
		HandshakeTimeout:   10 * time.Second,
		IdleTimeout:        15 * time.Second,
		KeepAlivePeriod:    5 * time.Second,
		MaxIncomingStreams: 4,
		MaxStreamWindow:    256 << 10,
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
	if ca != nil {
		pool.AddCert(ca)
	}
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

// pinnedTLS is tlsConfig for a CA not known yet: the collector's chain
// must hold the CA that pin names, and the collector's certificate must
// verify against that CA alone, for addr's host, before the handshake
// completes and anything is sent; *ca is then that CA. It takes the place
// of CA discovery (a UDP datagram) on networks that block UDP.
func pinnedTLS(addr, pin string, ca **x509.Certificate) (*tls.Config, error) {
	tc, err := tlsConfig(addr, nil, nil)
	if err != nil {
		return nil, err
	}
	tc.RootCAs = nil
	host := tc.ServerName
	// Go's own verification wants a root it already has; VerifyConnection
	// verifies instead, against the pinned CA only.
	tc.InsecureSkipVerify = true
	tc.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) < 2 {
			return errors.New("the collector sent no CA certificate to check against the pin")
		}
		var found *x509.Certificate
		err := errors.New("no CA certificate")
		for _, c := range cs.PeerCertificates[1:] {
			if err = protocol.CheckPin(c, pin); err == nil {
				found = c
				break
			}
		}
		if found == nil {
			// The pin's own error: malformed, or not matching. Who
			// issued what came instead helps find out why.
			return fmt.Errorf("%w (the server's certificate is issued by %s)", err, proxy.Describe(cs.PeerCertificates, addr).Issuer)
		}
		pool := x509.NewCertPool()
		pool.AddCert(found)
		if _, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, DNSName: host}); err != nil {
			return fmt.Errorf("the collector's certificate: %w", err)
		}
		*ca = found
		return nil
	}
	return tc, nil
}

// dialQUIC opens a QUIC connection to addr.
func dialQUIC(ctx context.Context, addr string, tc *tls.Config) (transport.Conn, error) {
	return tquic.Dial(ctx, addr, tc, QUICConfig())
}

// dialError names addr in a failed dial's error, with a hint when the
// collector's certificate does not name the host the agent dials. An
// interception is the whole message: it is what stands in the way, and
// what IT must act on.
func dialError(addr string, tc *tls.Config, err error) error {
	var certErr x509.HostnameError
	var in proxy.Interception
	if errors.As(err, &in) {
		return fmt.Errorf("connecting to %s: %w", addr, in)
	}
	if errors.As(err, &certErr) {
		return fmt.Errorf("connecting to %s: %w (start the collector with --san %s)", addr, err, tc.ServerName)
	}
	return fmt.Errorf("connecting to %s: %w", addr, err)
}

// exchange sends req on a new stream and reads one answer of type T.
func exchange[T protocol.Message](ctx context.Context, conn transport.Conn, req protocol.Message, timeout time.Duration) (T, error) {
	var answer T
	err := onStream(ctx, conn, timeout, func(str transport.Stream) error {
		if err := protocol.Write(str, req); err != nil {
			return fmt.Errorf("sending the request: %w", err)
		}
		var err error
		answer, err = protocol.ReadAs[T](str)
		return err
	})
	return answer, err
}

// onStream runs talk on a new stream of conn, for at most timeout, and
// then closes the stream.
func onStream(ctx context.Context, conn transport.Conn, timeout time.Duration, talk func(transport.Stream) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	str, err := conn.OpenStream(ctx)
	if err != nil {
		return fmt.Errorf("opening a stream: %w", err)
	}
	defer str.Close()
	defer str.CancelRead(0) // what talk read is all we read; see Client.answer
	defer unblockOnDone(ctx, str)()
	str.SetDeadline(time.Now().Add(timeout))
	return talk(str)
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
