package client

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// testCA makes a CA and a server certificate it signed for 127.0.0.1,
// whose chain carries the CA when withCA.
func testCA(t *testing.T, withCA bool) (*x509.Certificate, tls.Certificate) {
	t.Helper()
	return namedCA(t, "test CA", withCA)
}

// namedCA is testCA with the CA's common name.
func namedCA(t *testing.T, name string, withCA bool) (*x509.Certificate, tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "collector"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	chain := [][]byte{der}
	if withCA {
		chain = append(chain, caDER)
	}
	return ca, tls.Certificate{Certificate: chain, PrivateKey: key}
}

// pinServer serves one TLS handshake with cert and reports what the client
// sent after it.
func pinServer(t *testing.T, cert tls.Certificate) (addr string, received <-chan []byte) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{protocol.ALPN}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(io.LimitReader(c, 1<<16))
		got <- b
	}()
	return ln.Addr().String(), got
}

// TestPinnedTLS: over TCP the CA comes in the handshake's chain; the pin
// picks it, the collector's certificate must verify against it alone,
// and a mismatch fails the handshake before any application data leaves.
func TestPinnedTLS(t *testing.T) {
	ca, cert := testCA(t, true)
	addr, _ := pinServer(t, cert)
	var got *x509.Certificate
	tc, err := pinnedTLS(addr, protocol.Pin(ca), &got)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", addr, tc)
	if err != nil {
		t.Fatalf("handshake with the pinned CA: %v", err)
	}
	c.Close()
	if got == nil || !got.Equal(ca) {
		t.Errorf("the CA found is %v, want the pinned one", got)
	}

	other, _ := testCA(t, true)
	_, inspecting := namedCA(t, "Example Inspection CA", true)
	for name, tc := range map[string]struct {
		cert tls.Certificate
		pin  string
		want string
	}{
		"another CA's pin": {cert, protocol.Pin(other), "does not match the pin"},
		"an inspecting proxy": {inspecting, protocol.Pin(ca),
			"does not match the pin: check --ca-pin, or someone is in the middle (the server's certificate is issued by CN=Example Inspection CA)"},
		"malformed pin":  {cert, "sha256:abc", "is not of the form"},
		"no CA in chain": {func() tls.Certificate { _, c := testCA(t, false); return c }(), protocol.Pin(ca), "no CA certificate"},
	} {
		addr, received := pinServer(t, tc.cert)
		var found *x509.Certificate
		conf, err := pinnedTLS(addr, tc.pin, &found)
		if err != nil {
			t.Fatal(err)
		}
		c, err := tls.Dial("tcp", addr, conf)
		if err == nil {
			c.Write([]byte("the token"))
			c.Close()
			t.Errorf("%s: handshake succeeded", name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want it to say %q", name, err, tc.want)
		}
		if b := <-received; len(b) > 0 || found != nil {
			t.Errorf("%s: the server received %q after a refused handshake (CA %v)", name, b, found)
		}
	}
}

// TestPinnedTLSChecksTheHost: a certificate from the pinned CA for
// another host is refused.
func TestPinnedTLSChecksTheHost(t *testing.T) {
	ca, cert := testCA(t, true)
	addr, _ := pinServer(t, cert)
	_, port, _ := net.SplitHostPort(addr)
	var found *x509.Certificate
	tc, err := pinnedTLS(net.JoinHostPort("localhost", port), protocol.Pin(ca), &found)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := tls.Dial("tcp", addr, tc); err == nil {
		c.Close()
		t.Fatal("a certificate for 127.0.0.1 passed for localhost")
	} else if !strings.Contains(err.Error(), "localhost") {
		t.Errorf("error %v does not name the host", err)
	}
}
