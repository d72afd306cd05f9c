// Package transporttest is the conformance suite every transport.Conn
// implementation passes on loopback (Run), with the certificates and the
// cuttable sockets it needs. Each implementation's tests call Run with a
// Maker for their transport.
package transporttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// ALPN is the application protocol the suite's TLS configs agree on.
const ALPN = "sonde-test/1"

// ClientName is the common name of the client certificate.
const ClientName = "agent-under-test"

// Certs are a CA and the TLS configs of a mutually authenticated pair.
type Certs struct {
	CA     *x509.Certificate
	Server *tls.Config
	Client *tls.Config
}

// NewCerts makes a CA, a server certificate for 127.0.0.1 and "localhost"
// and a client certificate named ClientName.
func NewCerts(t testing.TB) *Certs {
	t.Helper()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "transporttest CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage) tls.Certificate {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &Certs{
		CA: ca,
		Server: &tls.Config{
			MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{issue(2, "localhost", x509.ExtKeyUsageServerAuth)},
			ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, NextProtos: []string{ALPN},
		},
		Client: &tls.Config{
			MinVersion: tls.VersionTLS13, RootCAs: pool, ServerName: "localhost", NextProtos: []string{ALPN},
			Certificates: []tls.Certificate{issue(3, ClientName, x509.ExtKeyUsageClientAuth)},
		},
	}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// CutPacketConn is a UDP socket whose traffic can be cut both ways, as a
// pulled cable would. It hides the *net.UDPConn so that quic-go reads and
// writes through it.
type CutPacketConn struct {
	net.PacketConn
	Cut atomic.Bool
}

func (c *CutPacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.Cut.Load() {
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, addr)
}

func (c *CutPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil || !c.Cut.Load() {
			return n, addr, err
		}
	}
}

// CutConn is a TCP connection whose traffic can be cut both ways: writes
// are dropped and what arrives is discarded, while the socket stays open;
// once cut, Close leaves the socket open too (a FIN would not get through a
// pulled cable): close Conn at the end of the test.
type CutConn struct {
	net.Conn
	Cut atomic.Bool
}

func (c *CutConn) Write(b []byte) (int, error) {
	if c.Cut.Load() {
		return len(b), nil
	}
	return c.Conn.Write(b)
}

func (c *CutConn) Close() error {
	if c.Cut.Load() {
		return nil
	}
	return c.Conn.Close()
}

func (c *CutConn) Read(b []byte) (int, error) {
	for {
		n, err := c.Conn.Read(b)
		if err != nil || !c.Cut.Load() {
			return n, err
		}
	}
}
