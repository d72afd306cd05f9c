package protocol

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Pin returns the pin of a CA certificate: "sha256:" and the hex SHA-256 of
// its SubjectPublicKeyInfo. An agent checks the CA it is handed against the
// pin it was given at enrollment, out of band.
func Pin(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// CheckPin reports whether cert matches pin, in constant time.
func CheckPin(cert *x509.Certificate, pin string) error {
	if !strings.HasPrefix(pin, "sha256:") || len(pin) != len("sha256:")+64 {
		return fmt.Errorf("CA pin %q is not of the form sha256:<64 hex digits>", pin)
	}
	if subtle.ConstantTimeCompare([]byte(Pin(cert)), []byte(strings.ToLower(pin))) != 1 {
		return errors.New("the collector's CA does not match the pin: check --ca-pin, or someone is in the middle")
	}
	return nil
}

// CA discovery. Before it has a certificate, an agent cannot verify the
// collector's TLS certificate, and Sonde never skips verification. So the
// agent first asks for the CA certificate in a plain UDP datagram on the
// collector's QUIC port, checks it against its pin, and only then dials
// QUIC with that CA as its only root. The request is padded to
// DiscoveryRequestSize so the answer is never larger than the question (no
// amplification). The first byte has the QUIC fixed bit clear, so the QUIC
// stack hands the datagram to the collector instead of parsing it. Over the
// TCP fallback there is no datagram: the CA comes in the TLS handshake's
// chain, and the agent checks it against the pin before the handshake
// completes.
const (
	DiscoveryRequestSize = 1200
	discoveryMagic       = "\x00SONDE-CA?1"
	discoveryAnswer      = "\x00SONDE-CA!1"
)

// DiscoveryRequest returns the datagram that asks for the CA certificate.
func DiscoveryRequest() []byte {
	b := make([]byte, DiscoveryRequestSize)
	copy(b, discoveryMagic)
	return b
}

// IsDiscoveryRequest reports whether b is a well-formed CA request.
func IsDiscoveryRequest(b []byte) bool {
	return len(b) >= DiscoveryRequestSize && bytes.HasPrefix(b, []byte(discoveryMagic))
}

// DiscoveryAnswer returns the datagram carrying the CA certificate's DER, or
// an error if it would be larger than the request.
func DiscoveryAnswer(caDER []byte) ([]byte, error) {
	if len(discoveryAnswer)+len(caDER) > DiscoveryRequestSize {
		return nil, fmt.Errorf("CA certificate is %d bytes, too large for discovery", len(caDER))
	}
	return append([]byte(discoveryAnswer), caDER...), nil
}

// ParseDiscoveryAnswer returns the CA certificate in an answer datagram.
func ParseDiscoveryAnswer(b []byte) (*x509.Certificate, error) {
	if !bytes.HasPrefix(b, []byte(discoveryAnswer)) {
		return nil, errors.New("not a Sonde CA answer")
	}
	cert, err := x509.ParseCertificate(b[len(discoveryAnswer):])
	if err != nil {
		return nil, fmt.Errorf("the CA answer holds no valid certificate: %w", err)
	}
	return cert, nil
}
