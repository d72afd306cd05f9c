package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/protocol"
)

// collector is just enough of a collector for an agent to connect to:
// it welcomes the agent, acknowledges every snapshot, and asks for one
// snapshot for a ticket, signed as a real collector signs it.
type collector struct {
	addr       string
	ca         *x509.Certificate
	caKey      *ecdsa.PrivateKey
	requestKey ed25519.PrivateKey
	ticket     string
	// refusal, when set, is the error text answered to the requested
	// snapshot instead of an ack, as a hostile collector might.
	refusal string
}

const testAgentID = "agent-test-1"

func startCollector(t *testing.T, ticket string) *collector {
	t.Helper()
	c := &collector{ticket: ticket}
	var err error
	c.caKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &c.caKey.PublicKey, c.caKey)
	if err != nil {
		t.Fatal(err)
	}
	if c.ca, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	_, c.requestKey, _ = ed25519.GenerateKey(nil)

	serverKey, serverDER := c.issue(t, "collector", x509.ExtKeyUsageServerAuth)
	pool := x509.NewCertPool()
	pool.AddCert(c.ca)
	tc := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{{Certificate: [][]byte{serverDER}, PrivateKey: serverKey}},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		NextProtos:   []string{protocol.ALPN},
	}
	ln, err := quic.ListenAddr("127.0.0.1:0", tc, &quic.Config{MaxIdleTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	c.addr = ln.Addr().String()
	go func() {
		for {
			conn, err := ln.Accept(context.Background())
			if err != nil {
				return
			}
			go c.serve(conn)
		}
	}()
	return c
}

// issue makes a key and a certificate for it signed by the CA.
func (c *collector) issue(t *testing.T, cn string, usage x509.ExtKeyUsage) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.ca, &key.PublicKey, c.caKey)
	if err != nil {
		t.Fatal(err)
	}
	return key, der
}

// enroll leaves an identity for this collector in the state dir dir, as
// `sonde-agent enroll` does.
func (c *collector) enroll(t *testing.T, dir string) {
	t.Helper()
	key, der := c.issue(t, testAgentID, x509.ExtKeyUsageClientAuth)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := state.Config{AgentID: testAgentID, Collector: c.addr, EnrolledAt: time.Now(),
		RequestKey: c.requestKey.Public().(ed25519.PublicKey)}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	if err := state.Save(dir, cfg, keyPEM, der, c.ca.Raw); err != nil {
		t.Fatal(err)
	}
}

// serve answers one agent: its hello, its snapshots, and one request.
func (c *collector) serve(conn *quic.Conn) {
	defer conn.CloseWithError(0, "")
	for {
		str, err := conn.AcceptStream(context.Background())
		if err != nil {
			return
		}
		go func() {
			defer str.Close()
			m, err := protocol.Read(str)
			if err != nil {
				return
			}
			switch m := m.(type) {
			case *protocol.Hello:
				binding, err := protocol.HelloBinding(conn.ConnectionState().TLS)
				if err != nil {
					return
				}
				protocol.Write(str, &protocol.Welcome{CollectorTime: time.Now().UnixNano(), HealthInterval: int64(time.Hour),
					Proof: protocol.ProveHello(c.requestKey, m.AgentID, m.Challenge, binding)})
				if _, err := protocol.ReadAs[*protocol.Introduce](str); err != nil {
					return
				}
				go c.request(conn)
			case *protocol.Snapshot:
				protocol.Write(str, &protocol.Ack{AgentID: m.AgentID, BootEpoch: m.BootEpoch, Seq: m.Seq})
			}
		}()
	}
}

// request asks the agent for a snapshot for the ticket.
func (c *collector) request(conn *quic.Conn) {
	str, err := conn.OpenStreamSync(context.Background())
	if err != nil {
		return
	}
	defer str.Close()
	req := &protocol.SnapshotRequest{RequestID: "rq-test-1", Probes: []string{"cpu", "memory"},
		Deadline: time.Now().Add(30 * time.Second).UnixMilli(), Ticket: c.ticket}
	nonce := make([]byte, 16)
	rand.Read(nonce)
	if req.Sign(c.requestKey, testAgentID, nonce) != nil || protocol.Write(str, req) != nil {
		return
	}
	snap, err := protocol.ReadAs[*protocol.Snapshot](str)
	switch {
	case err != nil:
	case c.refusal != "":
		protocol.Write(str, &protocol.Error{Code: protocol.CodeInternal, RequestID: req.RequestID, Message: c.refusal})
	default:
		protocol.Write(str, &protocol.Ack{AgentID: snap.AgentID, BootEpoch: snap.BootEpoch, Seq: snap.Seq})
	}
}
