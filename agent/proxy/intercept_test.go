package proxy

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// handshake runs a TLS handshake from a client with config cc to a
// loopback server presenting cert, and returns the client's error.
func handshake(t *testing.T, cert tls.Certificate, cc *tls.Config) error {
	t.Helper()
	srv := serve(t, listen(t), func(c net.Conn) {
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		tc.Handshake()
	})
	conn, err := net.Dial("tcp", srv.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tc := tls.Client(conn, cc)
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	return tc.Handshake()
}

// pinned is the agent's configuration: the collector's CA only, as
// agent/client's tlsConfig sets it.
func pinned(ca *x509.Certificate, host string) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS13}
}

func TestIntercepted(t *testing.T) {
	collectorCA := newCA(t, "Sonde CA")
	inspector := newCA(t, "Zscaler Root CA", "Zscaler Inc.").intermediate(t, "Zscaler Intermediate Root CA", "Zscaler Inc.")
	const target = "collector.example.com:7443"

	// An inspecting proxy forges a certificate for the collector's name.
	err := handshake(t, inspector.issue(t, "collector.example.com"), pinned(collectorCA.cert, "collector.example.com"))
	if err == nil {
		t.Fatal("the forged certificate was accepted")
	}
	in, ok := Intercepted(err, nil, collectorCA.cert, target)
	if !ok || !in.NamesHost || in.Issuer != "CN=Zscaler Intermediate Root CA, O=Zscaler Inc." || in.Root != "CN=Zscaler Root CA, O=Zscaler Inc." {
		t.Fatalf("%+v, %v", in, ok)
	}
	want := "a TLS-inspecting proxy (issuer: CN=Zscaler Intermediate Root CA, O=Zscaler Inc.; root: CN=Zscaler Root CA, O=Zscaler Inc.) is intercepting connections to collector.example.com:7443; exempt that host from inspection"
	if in.String() != want {
		t.Errorf("got  %s\nwant %s", in, want)
	}

	// Another server at that address, with a certificate for another name.
	other := newCA(t, "Some Public CA", "Example Trust")
	err = handshake(t, other.issue(t, "www.example.org"), pinned(collectorCA.cert, "collector.example.com"))
	in, ok = Intercepted(err, nil, collectorCA.cert, target)
	want = "the server at collector.example.com:7443 presented a certificate for www.example.org (issuer: CN=Some Public CA, O=Example Trust) that the collector's CA did not sign: a TLS-inspecting proxy, or another server at that address; exempt that host from inspection, or check the collector's address"
	if !ok || in.NamesHost || in.String() != want {
		t.Errorf("got  %s (%v)\nwant %s", in, ok, want)
	}

	// The collector's own certificate, failing for other reasons: no
	// interception.
	for name, cert := range map[string]tls.Certificate{
		"another name": collectorCA.issue(t, "old-name.example.com"),
		"expired":      collectorCA.issueAt(t, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour), "collector.example.com"),
	} {
		err := handshake(t, cert, pinned(collectorCA.cert, "collector.example.com"))
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
		if in, ok := Intercepted(err, nil, collectorCA.cert, target); ok {
			t.Errorf("%s: reported as %s", name, in)
		}
	}

	// A successful handshake, or an error without a chain: nothing to say.
	if err := handshake(t, collectorCA.issue(t, "collector.example.com"), pinned(collectorCA.cert, "collector.example.com")); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{nil, errors.New("connection reset")} {
		if _, ok := Intercepted(err, nil, collectorCA.cert, target); ok {
			t.Errorf("%v: reported", err)
		}
	}
}

// TestPeer: where the configuration verifies in its own
// VerifyPeerCertificate (pinning a key), crypto/tls returns the
// callback's error alone; Peer keeps the chain for Intercepted.
func TestPeer(t *testing.T) {
	collectorCA := newCA(t, "Sonde CA")
	inspector := newCA(t, "Netskope CA", "Netskope")
	pin := sha256.Sum256(collectorCA.cert.RawSubjectPublicKeyInfo)
	errPin := errors.New("not signed by the pinned CA")
	base := &tls.Config{
		InsecureSkipVerify: true, ServerName: "collector.example.com", MinVersion: tls.VersionTLS13,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			for _, der := range raw {
				c, err := x509.ParseCertificate(der)
				if err == nil && sha256.Sum256(c.RawSubjectPublicKeyInfo) == pin {
					return nil
				}
			}
			return errPin
		},
	}
	peer := new(Peer)
	err := handshake(t, inspector.issue(t, "collector.example.com"), peer.Config(base))
	if !errors.Is(err, errPin) {
		t.Fatalf("the base verification did not run: %v", err)
	}
	if _, ok := Intercepted(err, nil, collectorCA.cert, "collector.example.com:7443"); ok {
		t.Error("a chain found without the Peer")
	}
	in, ok := Intercepted(err, peer.State(), collectorCA.cert, "collector.example.com:7443")
	if !ok || in.Issuer != "CN=Netskope CA, O=Netskope" || in.Root != "" || !in.NamesHost {
		t.Errorf("%+v, %v", in, ok)
	}

	// The wrapped configuration accepts what base accepts.
	peer = new(Peer)
	if err := handshake(t, collectorCA.issue(t, "collector.example.com"), peer.Config(base)); err != nil {
		t.Errorf("the collector refused through Peer: %v", err)
	}
	if st := peer.State(); st == nil || len(st.PeerCertificates) != 2 {
		t.Errorf("recorded %+v", st)
	}
	if new(Peer).State() != nil {
		t.Error("a state without a handshake")
	}
}

func TestNameOf(t *testing.T) {
	ca := newCA(t, "Fortinet\x00CA\n", "Fortinet", "Second Org")
	if got := nameOf(ca.cert.Subject); got != "CN=FortinetCA, O=Fortinet, O=Second Org" {
		t.Errorf("got %q", got)
	}
	if got := nameOf(newCA(t, "").cert.Subject); got != "an unnamed issuer" {
		t.Errorf("got %q", got)
	}
	long := newCA(t, strings.Repeat("x", 1000))
	if got := nameOf(long.cert.Subject); len(got) > maxName {
		t.Errorf("%d bytes", len(got))
	}
}
