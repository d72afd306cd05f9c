package windows

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"
)

// TestThrowaway: the throwaway certificate is the same in every build, and
// a code-signing certificate that its CA verifies.
func TestThrowaway(t *testing.T) {
	ca, leaf, key, err := throwaway()
	if err != nil {
		t.Fatal(err)
	}
	ca2, leaf2, key2, err := throwaway()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ca, ca2) || !bytes.Equal(leaf, leaf2) || !bytes.Equal(key, key2) {
		t.Fatal("two throwaway certificates differ")
	}
	parse := func(b []byte) *x509.Certificate {
		blk, _ := pem.Decode(b)
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	roots := x509.NewCertPool()
	roots.AddCert(parse(ca))
	cert := parse(leaf)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: time.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}); err != nil {
		t.Errorf("the certificate does not verify with its CA: %v", err)
	}
	blk, _ := pem.Decode(key)
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(k.(*rsa.PrivateKey).Public()) {
		t.Fatal("the key is not the certificate's")
	}
	if n := pub.Size(); n != 256 {
		t.Errorf("a %d-byte modulus, want 2048 bits", n)
	}
}
