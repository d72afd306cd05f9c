package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/url"
	"sync"

	"github.com/sondehq/sonde/agent/proxy"
	"github.com/sondehq/sonde/internal/transport"
	"github.com/sondehq/sonde/internal/transport/tcp"
)

// Proxies chooses how the TCP transport reaches the collector: through
// the HTTP proxy that agent.yaml, the environment or the operating system
// names (see proxy.Resolve), or directly. QUIC never goes through a
// proxy: an HTTP proxy carries no UDP. The system's settings are read
// when first needed and again when the network changes (networkKey), never
// for every dial. A nil *Proxies reads the environment only.
type Proxies struct {
	// Settings are agent.yaml's proxy and no_proxy; its System is ignored.
	Settings proxy.Settings
	// Log, when set, hears which proxy is used and why, when that changes.
	Log *slog.Logger

	network func() string                       // nil: networkKey
	load    func(context.Context) *proxy.System // nil: proxy.LoadSystem

	mu      sync.Mutex
	key     string // the network the system's settings were read on
	system  *proxy.System
	decided string // the last decision logged
}

// resolve returns the proxy for target, nil for none.
func (p *Proxies) resolve(ctx context.Context, target string) (*url.URL, error) {
	s := proxy.Settings{}
	if p != nil {
		s = p.Settings
		s.System = p.systemFor(ctx)
	}
	u, src, err := proxy.Resolve(target, s)
	if err != nil {
		return nil, fmt.Errorf("choosing the proxy: %w", err)
	}
	if p == nil {
		return u, nil
	}
	p.logDecision(target, u, src)
	return u, nil
}

// systemFor returns the system's settings for the current network.
func (p *Proxies) systemFor(ctx context.Context) *proxy.System {
	network, load := p.network, p.load
	if network == nil {
		network = networkKey
	}
	if load == nil {
		load = proxy.LoadSystem
	}
	key := network()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.system == nil || key != p.key {
		p.system, p.key = load(ctx), key
		if p.Log != nil {
			for _, problem := range p.system.Problems {
				p.Log.Warn("a proxy setting of the system is not used", "problem", problem)
			}
		}
	}
	return p.system
}

// logDecision logs the proxy chosen for target when it differs from the
// last one logged.
func (p *Proxies) logDecision(target string, u *url.URL, src proxy.Source) {
	via := "direct"
	if u != nil {
		via = u.Redacted()
	}
	line := via + " " + src.String()
	p.mu.Lock()
	changed := line != p.decided
	p.decided = line
	p.mu.Unlock()
	if !changed || p.Log == nil {
		return
	}
	if src.Unsupported != "" {
		p.Log.Warn("proxy setting not supported; connecting directly", "collector", target, "why", src.String())
		return
	}
	p.Log.Info("reaching the collector over TCP", "collector", target, "via", via, "why", src.String())
}

// dialTCP opens a TLS-over-TCP connection to addr with tc, through the
// proxy px resolves, if any. A handshake that a server other than the
// collector answered, with a certificate that ca (the pinned CA, nil
// during enrollment, where pinnedTLS checks the pin) did not sign, fails
// with a proxy.Interception that names it.
func dialTCP(ctx context.Context, addr string, tc *tls.Config, px *Proxies, ca *x509.Certificate) (transport.Conn, error) {
	pu, err := px.resolve(ctx, addr)
	if err != nil {
		return nil, err
	}
	raw, err := proxy.Dial(ctx, pu, addr, nil)
	if err != nil {
		return nil, err
	}
	conn, err := tcp.Client(ctx, raw, tc, tcpConfig())
	if err != nil {
		if in, ok := proxy.Intercepted(err, nil, ca, addr); ok {
			return nil, in
		}
		if pu != nil {
			return nil, fmt.Errorf("%w (through the proxy at %s)", err, pu.Host)
		}
		return nil, err
	}
	return conn, nil
}
