// Package pki is the collector's certificate authority: it makes the CA on
// first start, issues the collector's QUIC server certificate and signs the
// certificate requests of enrolling agents.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/sondehq/sonde/internal/atomicfile"

	"github.com/sondehq/sonde/protocol"
)

// Files in the data dir.
const (
	CertFile = "ca.pem"
	KeyFile  = "ca.key"
)

// CA is the collector's certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// LoadOrCreate loads the CA from dir, or makes a new one there when dir holds
// none. The key file is written 0600.
func LoadOrCreate(dir string) (ca *CA, created bool, err error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CertFile))
	if errors.Is(err, os.ErrNotExist) {
		ca, err = create(dir)
		return ca, err == nil, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading CA certificate: %w", err)
	}
	ca, err = Load(dir, certPEM)
	return ca, false, err
}

// Load reads the CA from dir.
func Load(dir string, certPEM []byte) (*CA, error) {
	if certPEM == nil {
		var err error
		if certPEM, err = os.ReadFile(filepath.Join(dir, CertFile)); err != nil {
			return nil, fmt.Errorf("reading CA certificate: %w", err)
		}
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, KeyFile))
	if err != nil {
		return nil, fmt.Errorf("reading CA key: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading CA from %s: %w", dir, err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("loading CA from %s: %w", dir, err)
	}
	key, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, errors.New("CA key cannot sign")
	}
	return &CA{Cert: cert, Key: key}, nil
}

// create makes a new CA in dir; its errors say so.
func create(dir string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("creating the CA: generating its key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Sonde agent CA", Organization: []string{"Sonde"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("creating the CA: signing its certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("creating the CA: encoding its key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the CA: %w", err)
	}
	// Key first: a CA certificate without its key would be unusable.
	if err := atomicfile.Write(filepath.Join(dir, KeyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, fmt.Errorf("creating the CA: saving its key: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, CertFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, fmt.Errorf("creating the CA: saving its certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("creating the CA: %w", err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return n
}

// Secrets in the data dir besides the CA.
const (
	ResetKeyFile   = "quic-reset.key"      // QUIC stateless reset key
	BundleKeyFile  = "bundle-signing.key"  // Ed25519 seed that signs bundles
	RequestKeyFile = "request-signing.key" // Ed25519 seed that signs requests to agents
)

// LoadOrCreateSecret returns the 32-byte secret in dir/name, making it
// (mode 0600) when it does not exist yet.
func LoadOrCreateSecret(dir, name string) ([32]byte, error) {
	var key [32]byte
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		rand.Read(key[:])
		if err := atomicfile.Write(path, key[:], 0o600); err != nil {
			return key, fmt.Errorf("creating secret %s: %w", name, err)
		}
		return key, nil
	}
	if err != nil {
		return key, fmt.Errorf("loading secret %s: %w", name, err)
	}
	if len(b) != len(key) {
		return key, fmt.Errorf("%s holds %d bytes, want %d", path, len(b), len(key))
	}
	copy(key[:], b)
	return key, nil
}

// Pin returns the CA's pin, as printed by `sonde-collector token create`.
func (ca *CA) Pin() string { return protocol.Pin(ca.Cert) }

// Pool returns a pool holding only the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// ServerCertificate issues a fresh certificate for the collector's QUIC
// listener, valid for the given host names and IP addresses.
func (ca *CA) ServerCertificate(hosts []string, validity time.Duration) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issuing the server certificate: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "sonde-collector"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issuing the server certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key}, nil
}

// ErrBadCSR is wrapped by every reason to refuse a certificate request.
var ErrBadCSR = errors.New("certificate request refused")

// SignAgent checks an agent's certificate request (signature and key type)
// and returns a client certificate for agentID, DER-encoded.
func (ca *CA) SignAgent(csrDER []byte, agentID string, validity time.Duration) ([]byte, error) {
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCSR, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: bad signature: %v", ErrBadCSR, err)
	}
	switch k := csr.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: ECDSA keys must be P-256", ErrBadCSR)
		}
	case ed25519.PublicKey:
	default:
		return nil, fmt.Errorf("%w: key type %T not accepted (P-256 or Ed25519)", ErrBadCSR, csr.PublicKey)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: agentID, Organization: []string{"Sonde agents"}},
		NotBefore:    now.Add(-time.Minute), // some slack for clocks a little behind
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("signing the certificate of agent %s: %w", agentID, err)
	}
	return der, nil
}
