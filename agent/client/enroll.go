package client

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/internal/transport"
	"github.com/sondehq/sonde/protocol"
)

// Enroll makes the agent's key pair on this machine, fetches the collector's
// CA and checks it against pin, sends a certificate request with the token
// and saves the identity it gets back in dir. Its errors say which step
// failed; the caller names the collector.
//
// Over QUIC the CA comes first, in a datagram (discoverCA), and the agent
// dials with it as its only root. Where UDP is blocked, the race (see
// race.go) moves to TCP, where the CA comes in band: in the chain of the
// TLS handshake, checked against the pin during the handshake (pinnedTLS),
// so that the token is sent only to the pinned collector either way.
//
// Over TCP it goes through the proxy that px chooses (nil: the
// environment's).
func Enroll(ctx context.Context, dir, addr, token, pin string, facts protocol.Facts, px *Proxies) (*state.Config, error) {
	addr, err := NormalizeAddr(addr)
	if err != nil {
		return nil, err
	}
	key, csr, err := newKey(facts.Hostname)
	if err != nil {
		return nil, err
	}
	type reached struct {
		conn transport.Conn
		ca   *x509.Certificate
	}
	viaQUIC := func(ctx context.Context) (reached, error) {
		ca, err := discoverCA(ctx, addr)
		if err != nil {
			return reached{}, err
		}
		if err := protocol.CheckPin(ca, pin); err != nil {
			return reached{}, err
		}
		tc, err := tlsConfig(addr, ca, nil)
		if err != nil {
			return reached{}, err
		}
		conn, err := dialQUIC(ctx, addr, tc)
		if err != nil {
			return reached{}, dialError(addr, tc, over(transport.KindQUIC, err))
		}
		return reached{conn, ca}, nil
	}
	viaTCP := func(ctx context.Context) (reached, error) {
		var ca *x509.Certificate
		tc, err := pinnedTLS(addr, pin, &ca)
		if err != nil {
			return reached{}, err
		}
		conn, err := dialTCP(ctx, addr, tc, px, nil)
		if err != nil {
			return reached{}, dialError(addr, tc, over(transport.KindTCP, err))
		}
		return reached{conn, ca}, nil
	}
	r, err := race(ctx, raceDelay, viaQUIC, viaTCP, func(r reached) { r.conn.CloseWithError(0, "") })
	if err != nil {
		return nil, err
	}
	conn, ca := r.conn, r.ca
	defer conn.CloseWithError(0, "")
	got, err := exchange[*protocol.Enrolled](ctx, conn, &protocol.Enroll{Token: token, CSR: csr, Facts: facts}, 30*time.Second)
	if err != nil {
		return nil, fmt.Errorf("requesting a certificate: %w", err)
	}
	keyPEM, err := checkIssued(got.Certificate, key, ca, got.AgentID)
	if err != nil {
		return nil, err
	}
	if len(got.RequestKey) == 0 {
		return nil, errors.New("collector sent no request-signing key: upgrade the collector")
	}
	cfg := state.Config{AgentID: got.AgentID, Collector: addr, EnrolledAt: time.Now().UTC(), RequestKey: got.RequestKey}
	if err := state.Save(dir, cfg, keyPEM, got.Certificate, ca.Raw); err != nil {
		return nil, fmt.Errorf("saving the identity: %w", err)
	}
	return &cfg, nil
}

// discoverCA asks the collector for its CA certificate over plain UDP (see
// protocol.DiscoveryRequest). The answer is trusted only once it matches
// the pin.
func discoverCA(ctx context.Context, addr string) (*x509.Certificate, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return nil, fmt.Errorf("asking for the CA certificate: %w", err)
	}
	defer c.Close()
	// Reads wait on a deadline; ending ctx moves it to now.
	stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Now()) })
	defer stop()
	buf := make([]byte, 1500)
	var lastErr error
	for attempt := 0; attempt < 4; attempt++ {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if _, err := c.Write(protocol.DiscoveryRequest()); err != nil {
			lastErr = err
			t := time.NewTimer(500 * time.Millisecond)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			}
			continue
		}
		c.SetReadDeadline(time.Now().Add(time.Second << attempt))
		if ctx.Err() != nil {
			return nil, ctx.Err() // ended before the deadline was set
		}
		n, err := c.Read(buf)
		if err != nil {
			lastErr = err
			continue
		}
		ca, err := protocol.ParseDiscoveryAnswer(buf[:n])
		if err != nil {
			lastErr = err
			continue
		}
		return ca, nil
	}
	return nil, fmt.Errorf("no answer from a Sonde collector (UDP): %v", lastErr)
}
