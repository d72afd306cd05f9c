//go:build faults

package faults

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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/status"
	"github.com/sondehq/sonde/e2e/netns"
	"github.com/sondehq/sonde/protocol"
)

// TestInterceptingProxy: between the agent and the collector sits a TCP
// relay that, once switched, terminates TLS itself with a certificate for
// the collector's address from a test CA the agent does not pin, as a
// TLS-inspecting proxy does. The agent refuses it (no client certificate,
// no byte of the protocol reaches it), keeps retrying, and its status
// and receipts name the intercepting issuer and what to do.
//
//	agent A 10.204.1.2 -- 10.204.1.1 relay R 10.204.2.1 -- 10.204.2.2 collector C
func TestInterceptingProxy(t *testing.T) {
	nsA, nsR, nsC := netns.New(t, "mitm-a"), netns.New(t, "mitm-r"), netns.New(t, "mitm-c")
	netns.Veth(t, nsA, "va", "10.204.1.2/24", nsR, "ra", "10.204.1.1/24")
	netns.Veth(t, nsR, "rc", "10.204.2.1/24", nsC, "vc", "10.204.2.2/24")
	const relayAddr, collAddr = "10.204.1.1:7443", "10.204.2.2:7443"
	relay := newTCPRelay(t, nsR, relayAddr, collAddr)
	s := newSite(t, nsA, nsC, collAddr, []string{"10.204.1.1"})
	if err := nsA.Loss(100); err != nil { // TCP only, so through the relay
		t.Fatal(err)
	}
	if _, _, err := s.enroll(relayAddr); err != nil {
		t.Fatalf("enrolling through the relay: %v", err)
	}
	s.start()
	s.waitStatus("the agent to connect through the relay", 10*time.Second, connectedOver("TCP"))
	s.stop()

	relay.intercept(inspectingCert(t, "Sonde Test Inspection CA", net.ParseIP("10.204.1.1")))
	s.start()
	want := "connecting to " + relayAddr + ": a TLS-inspecting proxy (issuer: CN=Sonde Test Inspection CA, O=Example Security) is intercepting connections to " +
		relayAddr + "; exempt that host from inspection"
	s.waitStatus("the agent to name the interception", 20*time.Second, func(st *status.Status) bool {
		return !st.Connected && st.Error == want
	})
	says := s.agentSays("status")
	if !strings.Contains(says, "running, not connected: "+want) {
		t.Errorf("sonde-agent status says:\n%s\nwant it to hold %q", says, want)
	}
	t.Logf("sonde-agent status says: %q", strings.TrimSpace(says))
	for _, cmd := range []string{"receipts", "check"} {
		out := s.agentSays(cmd)
		line := ""
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "TLS-inspecting proxy (issuer: CN=Sonde Test Inspection CA") {
				line = l
			}
		}
		if line == "" {
			t.Errorf("sonde-agent %s says:\n%s", cmd, out)
		}
		t.Logf("sonde-agent %s: %s", cmd, strings.TrimSpace(line))
	}
	// It keeps trying (backoff 1 s, 2 s, 4 s ...), and never trusts it.
	first := relay.handshakes.Load()
	time.Sleep(8 * time.Second)
	if n := relay.handshakes.Load(); n <= first {
		t.Errorf("no new attempt in 8 s (%d handshakes)", n)
	}
	if c := relay.clientCerts.Load(); c != 0 {
		t.Errorf("the agent sent its certificate to the intercepting server %d times", c)
	}
	if n := relay.completed.Load(); n != 0 {
		t.Errorf("%d handshakes with the intercepting server completed", n)
	}
	t.Logf("%d handshakes refused by the agent, none completed, no client certificate sent", relay.handshakes.Load())
	s.stop()
}

// tcpRelay forwards TCP connections from its listener in a namespace to a
// target, until intercept makes it answer TLS itself.
type tcpRelay struct {
	t                                  *testing.T
	ns                                 *netns.NS
	ln                                 net.Listener
	target                             string
	mu                                 sync.Mutex
	forged                             *tls.Certificate // nil: forward
	conns                              map[net.Conn]bool
	handshakes, completed, clientCerts atomic.Int64
	wg                                 sync.WaitGroup
}

func newTCPRelay(t *testing.T, ns *netns.NS, listen, target string) *tcpRelay {
	t.Helper()
	r := &tcpRelay{t: t, ns: ns, target: target, conns: map[net.Conn]bool{}}
	if err := netns.Do(ns, func() (err error) {
		r.ln, err = net.Listen("tcp", listen)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	r.wg.Go(r.serve)
	t.Cleanup(func() {
		r.ln.Close()
		r.closeAll()
		r.wg.Wait()
	})
	return r
}

// intercept ends the connections forwarded so far and answers new ones
// with TLS and cert, as an inspecting proxy does.
func (r *tcpRelay) intercept(cert tls.Certificate) {
	r.mu.Lock()
	r.forged = &cert
	r.mu.Unlock()
	r.closeAll()
}

func (r *tcpRelay) closeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.conns {
		c.Close()
	}
}

func (r *tcpRelay) track(c net.Conn, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if on {
		r.conns[c] = true
	} else {
		delete(r.conns, c)
	}
}

func (r *tcpRelay) serve() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.track(c, true)
		r.mu.Lock()
		forged := r.forged
		r.mu.Unlock()
		r.wg.Go(func() {
			defer r.track(c, false)
			defer c.Close()
			if forged != nil {
				r.terminate(c, forged)
				return
			}
			r.forward(c)
		})
	}
}

// terminate answers c's TLS handshake with forged, asking for a client
// certificate, and counts what the client did.
func (r *tcpRelay) terminate(c net.Conn, forged *tls.Certificate) {
	r.handshakes.Add(1)
	tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{*forged}, ClientAuth: tls.RequestClientCert,
		NextProtos: []string{protocol.ALPN}, MinVersion: tls.VersionTLS12})
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		if len(tc.ConnectionState().PeerCertificates) > 0 {
			r.clientCerts.Add(1)
		}
		return
	}
	r.completed.Add(1)
	if len(tc.ConnectionState().PeerCertificates) > 0 {
		r.clientCerts.Add(1)
	}
	io.Copy(io.Discard, tc)
}

// forward joins c to a new connection to the target, made in the relay's
// namespace.
func (r *tcpRelay) forward(c net.Conn) {
	var up net.Conn
	if err := netns.Do(r.ns, func() (err error) {
		up, err = net.DialTimeout("tcp", r.target, 5*time.Second)
		return err
	}); err != nil {
		return
	}
	r.track(up, true)
	defer r.track(up, false)
	defer up.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		dst.Close()
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
}

// inspectingCert makes a CA named name (organization "Example Security")
// and a certificate it signed for ip, as an inspecting proxy forges for
// the host a client connects to.
func inspectingCert(t *testing.T, name string, ip net.IP) tls.Certificate {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name, Organization: []string{"Example Security"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: ip.String()},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IPAddresses: []net.IP{ip},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}
}
