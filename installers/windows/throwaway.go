package windows

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"time"
)

// throwaway returns the PEM of a throwaway code-signing CA, of a
// certificate it issued, and of that certificate's key. Builds without a
// real certificate are signed with it, so the signing step always runs;
// Windows trusts none of it. Its keys derive from fixed seeds, so it is
// the same in every build, and so are the signatures (RSA PKCS #1 v1.5
// signatures are deterministic): a signed MSI is reproducible. The keys
// are public knowledge and sign nothing anyone should trust.
func throwaway() (caPEM, certPEM, keyPEM []byte, err error) {
	caKey, err := seededKey("sonde throwaway code-signing CA")
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := seededKey("sonde throwaway code-signing certificate")
	if err != nil {
		return nil, nil, nil, err
	}
	from, until := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"Sonde"}, CommonName: "Sonde throwaway code-signing CA (not trusted)"},
		NotBefore:             from,
		NotAfter:              until,
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(seeded("ca"), ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("the throwaway CA: %w", err)
	}
	if ca, err = x509.ParseCertificate(caDER); err != nil {
		return nil, nil, nil, fmt.Errorf("the throwaway CA: %w", err)
	}
	leaf := &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{Organization: []string{"Sonde"}, CommonName: "Sonde development build (not trusted)"},
		NotBefore:             from,
		NotAfter:              until,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	leafDER, err := x509.CreateCertificate(seeded("leaf"), leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("the throwaway certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("the throwaway key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// seededKey derives a 2048-bit RSA key from seed: its primes are the
// first that a SHA-256 stream of seed gives (rsa.GenerateKey takes no
// seed).
func seededKey(seed string) (*rsa.PrivateKey, error) {
	r := seeded(seed)
	e := big.NewInt(65537)
	prime := func() (*big.Int, error) {
		b := make([]byte, 128)
		for {
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, fmt.Errorf("reading the seeded stream: %w", err)
			}
			b[0] |= 0xc0 // two top bits: the product has 2048 bits
			b[127] |= 1
			p := new(big.Int).SetBytes(b)
			// e must be invertible modulo p-1.
			if p.ProbablyPrime(20) && new(big.Int).Mod(p, e).Int64() != 1 {
				return p, nil
			}
		}
	}
	p, err := prime()
	if err != nil {
		return nil, fmt.Errorf("deriving a key: %w", err)
	}
	q, err := prime()
	if err != nil {
		return nil, fmt.Errorf("deriving a key: %w", err)
	}
	one := big.NewInt(1)
	phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
	k := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: new(big.Int).Mul(p, q), E: int(e.Int64())},
		D:         new(big.Int).ModInverse(e, phi),
		Primes:    []*big.Int{p, q},
	}
	k.Precompute()
	if err := k.Validate(); err != nil {
		return nil, fmt.Errorf("deriving a key: %w", err)
	}
	return k, nil
}

// seeded is an endless stream of bytes: SHA-256 of seed and a counter.
func seeded(seed string) io.Reader { return &stream{seed: seed} }

type stream struct {
	seed string
	n    uint64
	buf  []byte
}

func (s *stream) Read(p []byte) (int, error) {
	for len(s.buf) < len(p) {
		h := sha256.New()
		h.Write([]byte(s.seed))
		h.Write(binary.BigEndian.AppendUint64(nil, s.n))
		s.n++
		s.buf = h.Sum(s.buf)
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}
