package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/internal/transport"
	"github.com/sondehq/sonde/protocol"
)

// newKey makes a key pair on this machine and a certificate request for it.
func newKey(cn string) (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("making the agent key: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("making the certificate request: %w", err)
	}
	return key, csr, nil
}

// checkIssued checks that a certificate the collector issued is for key,
// for agentID, and signed by ca for client authentication, and returns the
// key in PEM for the state dir.
func checkIssued(der []byte, key *ecdsa.PrivateKey, ca *x509.Certificate, agentID string) ([]byte, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("collector sent a bad certificate: %w", err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("collector sent a certificate for another key")
	}
	if cert.Subject.CommonName != agentID {
		return nil, fmt.Errorf("collector sent a certificate for agent %q, not %q", cert.Subject.CommonName, agentID)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("collector sent a certificate its CA did not sign: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding the agent key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// RenewAt is when a certificate is due for renewal: two thirds into its
// life, so a machine that is off for a while still has time to renew.
func RenewAt(cert *x509.Certificate) time.Time {
	return cert.NotBefore.Add(cert.NotAfter.Sub(cert.NotBefore) * 2 / 3)
}

// checkExpiry explains an expired certificate: the collector will refuse
// it, and only a new enrollment helps.
func (c *Client) checkExpiry() error {
	leaf, err := x509.ParseCertificate(c.certificate().Certificate[0])
	if err != nil {
		return fmt.Errorf("reading the agent certificate: %w", err)
	}
	if time.Now().After(leaf.NotAfter) {
		return fmt.Errorf("the agent certificate expired on %s (the machine was off or offline too long to renew it): enroll again with --force", leaf.NotAfter.Format(time.RFC3339))
	}
	return nil
}

// certificate returns the agent's current certificate.
func (c *Client) certificate() tls.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ID.Cert
}

// renewLoop renews the certificate over conn when it is due, until ctx ends.
func (c *Client) renewLoop(ctx context.Context, conn transport.Conn) {
	for {
		leaf, err := x509.ParseCertificate(c.certificate().Certificate[0])
		if err != nil {
			c.Log.Error("reading the agent certificate", "err", err)
			return
		}
		select {
		case <-time.After(time.Until(RenewAt(leaf))):
		case <-ctx.Done():
			return
		}
		if err := c.renew(ctx, conn); err != nil {
			c.Log.Warn("certificate renewal failed; retrying in a minute", "err", err, "expires", leaf.NotAfter)
		}
		// At most one renewal a minute, whatever the certificates' lives.
		select {
		case <-time.After(time.Minute):
		case <-ctx.Done():
			return
		}
	}
}

// renew gets a certificate for a fresh key and keeps both in the state dir;
// the next connection uses them.
func (c *Client) renew(ctx context.Context, conn transport.Conn) error {
	key, csr, err := newKey(c.ID.AgentID)
	if err != nil {
		return err
	}
	got, err := exchange[*protocol.Renewed](ctx, conn, &protocol.Renew{CSR: csr}, 30*time.Second)
	if err != nil {
		return err
	}
	keyPEM, err := checkIssued(got.Certificate, key, c.ID.CA, c.ID.AgentID)
	if err != nil {
		return err
	}
	if c.StateDir != "" {
		if err := state.Save(c.StateDir, c.ID.Config, keyPEM, got.Certificate, c.ID.CA.Raw); err != nil {
			return fmt.Errorf("saving the renewed identity: %w", err)
		}
	}
	leaf, _ := x509.ParseCertificate(got.Certificate)
	c.mu.Lock()
	c.ID.Cert = tls.Certificate{Certificate: [][]byte{got.Certificate}, PrivateKey: key, Leaf: leaf}
	c.mu.Unlock()
	c.Log.Info("certificate renewed", "expires", leaf.NotAfter)
	return nil
}
