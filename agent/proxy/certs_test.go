package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"
)

// testCA issues certificates for the tests.
type testCA struct {
	cert  *x509.Certificate
	key   *ecdsa.PrivateKey
	chain [][]byte // its own chain up to its root, itself first
}

var serial int64

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func create(t *testing.T, tmpl, parent *x509.Certificate, pub, signer any) *x509.Certificate {
	t.Helper()
	serial++
	tmpl.SerialNumber = big.NewInt(serial)
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newCA makes a root CA named cn, of the organisations org.
func newCA(t *testing.T, cn string, org ...string) *testCA {
	key := newKey(t)
	c := create(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: cn, Organization: org}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, nil, &key.PublicKey, key)
	return &testCA{cert: c, key: key, chain: [][]byte{c.Raw}}
}

// intermediate makes a CA that ca signs.
func (ca *testCA) intermediate(t *testing.T, cn string, org ...string) *testCA {
	key := newKey(t)
	c := create(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: cn, Organization: org}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, ca.cert, &key.PublicKey, ca.key)
	return &testCA{cert: c, key: key, chain: append([][]byte{c.Raw}, ca.chain...)}
}

// issue makes a server certificate for hosts, valid now, with ca's chain.
func (ca *testCA) issue(t *testing.T, hosts ...string) tls.Certificate {
	return ca.issueAt(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), hosts...)
}

func (ca *testCA) issueAt(t *testing.T, from, to time.Time, hosts ...string) tls.Certificate {
	key := newKey(t)
	tmpl := &x509.Certificate{
		Subject: pkix.Name{CommonName: hosts[0]}, NotBefore: from, NotAfter: to,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	c := create(t, tmpl, ca.cert, &key.PublicKey, ca.key)
	return tls.Certificate{Certificate: append([][]byte{c.Raw}, ca.chain...), PrivateKey: key, Leaf: c}
}
