package proxy

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/sondehq/sonde/internal/safetext"
)

// Interception is a TLS-inspecting proxy (or another server) that
// answered a TLS handshake in the collector's place with a certificate
// the collector's CA did not sign. The agent never trusts it: mutual TLS
// cannot pass an inspecting proxy, which holds no key of the agent's.
type Interception struct {
	// Target is the collector address of the handshake.
	Target string
	// Issuer is the presented certificate's issuer, the inspecting CA:
	// "CN=Zscaler Intermediate Root CA, O=Zscaler Inc.".
	Issuer string
	// Root is the issuer of the last certificate of the presented chain
	// (the root it leads to), when that is not Issuer.
	Root string
	// Names are the names the presented certificate is for, bounded.
	Names []string
	// NamesHost says the certificate is for the collector's host name, as
	// an inspecting proxy forges it; when false, the server may instead be
	// another one at that address.
	NamesHost bool
}

// String says what is in the way and what to do, for an IT person.
func (i Interception) String() string {
	issuer := "issuer: " + i.Issuer
	if i.Root != "" {
		issuer += "; root: " + i.Root
	}
	if i.NamesHost {
		return fmt.Sprintf("a TLS-inspecting proxy (%s) is intercepting connections to %s; exempt that host from inspection", issuer, i.Target)
	}
	names := "no name"
	if len(i.Names) > 0 {
		names = strings.Join(i.Names, ", ")
	}
	return fmt.Sprintf("the server at %s presented a certificate for %s (%s) that the collector's CA did not sign: a TLS-inspecting proxy, or another server at that address; exempt that host from inspection, or check the collector's address", i.Target, names, issuer)
}

// Error is String: an Interception is the reason a connection failed.
func (i Interception) Error() string { return i.String() }

// Bounds of what Intercepted and Peer keep.
const (
	maxChain = 10
	maxNames = 4
	maxName  = 256
)

// Intercepted tells, after a failed TLS handshake with the collector at
// target (host:port), whether the server presented a certificate chain
// that the pinned CA did not sign: a TLS-inspecting proxy in the way (or
// another server at that address). It reads the chain from err when
// crypto/tls put it there (a *tls.CertificateVerificationError, which
// standard verification against RootCAs returns), else from state's
// PeerCertificates (see Peer, for configurations that verify in their
// own VerifyPeerCertificate). It answers false when err is nil, when no
// chain is known, and when the chain is the collector's own (the
// handshake failed for another reason: expiry, a name, the client
// certificate).
func Intercepted(err error, state *tls.ConnectionState, pinnedCA *x509.Certificate, target string) (Interception, bool) {
	if err == nil || pinnedCA == nil {
		return Interception{}, false
	}
	var chain []*x509.Certificate
	var ve *tls.CertificateVerificationError
	if errors.As(err, &ve) {
		chain = ve.UnverifiedCertificates
	}
	if len(chain) == 0 && state != nil {
		chain = state.PeerCertificates
	}
	if len(chain) == 0 {
		return Interception{}, false
	}
	chain = chain[:min(len(chain), maxChain)]
	for _, c := range chain {
		if c == nil {
			return Interception{}, false
		}
		if bytes.Equal(c.Raw, pinnedCA.Raw) || c.CheckSignatureFrom(pinnedCA) == nil {
			return Interception{}, false
		}
	}
	return Describe(chain, target), true
}

// Describe names the server that presented chain (leaf first, not
// empty, no nil) in place of the collector at target, for a caller that
// found none of chain to be the collector's: Intercepted, or a check
// against a CA's pin during enrollment.
func Describe(chain []*x509.Certificate, target string) Interception {
	chain = chain[:min(len(chain), maxChain)]
	leaf := chain[0]
	in := Interception{Target: target, Issuer: nameOf(leaf.Issuer)}
	if top := nameOf(chain[len(chain)-1].Issuer); top != in.Issuer {
		in.Root = top
	}
	for _, n := range append(append([]string{}, leaf.DNSNames...), ipStrings(leaf)...) {
		if len(in.Names) == maxNames {
			in.Names = append(in.Names, "...")
			break
		}
		in.Names = append(in.Names, safetext.Clean(n, 128))
	}
	if len(in.Names) == 0 && leaf.Subject.CommonName != "" {
		in.Names = []string{safetext.Clean(leaf.Subject.CommonName, 128)}
	}
	host := target
	if h, _, err := net.SplitHostPort(target); err == nil {
		host = h
	}
	in.NamesHost = leaf.VerifyHostname(host) == nil
	return in
}

func ipStrings(c *x509.Certificate) []string {
	var out []string
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

// nameOf writes a distinguished name as people read it: CN, O, OU, in
// that order ("CN=Zscaler Intermediate Root CA, O=Zscaler Inc."), else
// the whole name; cleaned and bounded, as it came from the network.
func nameOf(n pkix.Name) string {
	var parts []string
	if n.CommonName != "" {
		parts = append(parts, "CN="+n.CommonName)
	}
	for _, o := range n.Organization {
		parts = append(parts, "O="+o)
	}
	for _, ou := range n.OrganizationalUnit {
		parts = append(parts, "OU="+ou)
	}
	s := strings.Join(parts, ", ")
	if s == "" {
		s = n.String()
	}
	if s = safetext.Clean(s, maxName); s == "" {
		return "an unnamed issuer"
	}
	return s
}

// Peer records the certificate chain a TLS server presents, for
// Intercepted. crypto/tls hands a failed handshake's chain over in two
// ways only:
//
//   - with standard verification (RootCAs, as the agent pins its
//     collector's CA), in the error: a *tls.CertificateVerificationError,
//     which Intercepted reads; no Peer is needed;
//   - with a configuration that verifies in its own
//     VerifyPeerCertificate (InsecureSkipVerify set), to that callback
//     only: crypto/tls returns the callback's error as is, and neither
//     the error nor ConnectionState holds the chain. Peer's Config wraps
//     the callback to record the chain before it runs.
//
// VerifyConnection never sees a chain that failed verification. A Peer
// serves one handshake; it is safe for concurrent use.
type Peer struct {
	mu    sync.Mutex
	chain []*x509.Certificate
}

// Config returns a copy of base whose VerifyPeerCertificate records the
// presented chain and then calls base's own, if any. It changes no
// verification: what base accepts and refuses, the copy does too.
func (p *Peer) Config(base *tls.Config) *tls.Config {
	c := base.Clone()
	next := base.VerifyPeerCertificate
	c.VerifyPeerCertificate = func(raw [][]byte, chains [][]*x509.Certificate) error {
		var certs []*x509.Certificate
		for _, der := range raw[:min(len(raw), maxChain)] {
			if cert, err := x509.ParseCertificate(der); err == nil {
				certs = append(certs, cert)
			}
		}
		p.mu.Lock()
		p.chain = certs
		p.mu.Unlock()
		if next != nil {
			return next(raw, chains)
		}
		return nil
	}
	return c
}

// State returns a ConnectionState whose PeerCertificates are the chain
// recorded, for Intercepted; nil when none was.
func (p *Peer) State() *tls.ConnectionState {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.chain) == 0 {
		return nil
	}
	return &tls.ConnectionState{PeerCertificates: p.chain}
}
