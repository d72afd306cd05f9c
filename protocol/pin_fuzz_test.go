package protocol

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"math/big"
	"os"
	"testing"
	"time"
)

// testCADER returns the DER of a self-signed CA certificate like the
// collector's.
func testCADER(tb testing.TB) []byte {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Sonde collector CA"},
		NotBefore:             time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// FuzzParseDiscoveryAnswer feeds arbitrary datagrams to the agent's CA
// discovery. An accepted answer holds exactly one certificate and nothing
// else, rebuilds to the same datagram, and its pin checks.
func FuzzParseDiscoveryAnswer(f *testing.F) {
	der := testCADER(f)
	answer, err := DiscoveryAnswer(der)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(answer)
	f.Add(answer[:len(answer)-1])
	f.Add(append(bytes.Clone(answer), 0))
	f.Add([]byte(discoveryAnswer))
	f.Add(DiscoveryRequest())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		cert, err := ParseDiscoveryAnswer(b)
		if err != nil {
			if cert != nil {
				t.Fatalf("returned a certificate with error %v", err)
			}
			return
		}
		if cert == nil {
			t.Fatal("no certificate and no error")
		}
		if !bytes.HasPrefix(b, []byte(discoveryAnswer)) || !bytes.Equal(cert.Raw, b[len(discoveryAnswer):]) {
			t.Fatalf("the certificate is not the whole answer after the prefix")
		}
		if len(b) <= DiscoveryRequestSize {
			again, err := DiscoveryAnswer(cert.Raw)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("DiscoveryAnswer(parsed) = %x, %v; want the datagram back", again, err)
			}
		}
		if err := CheckPin(cert, Pin(cert)); err != nil {
			t.Fatalf("a certificate does not match its own pin: %v", err)
		}
		if IsDiscoveryRequest(b) {
			t.Fatal("an answer is taken for a request")
		}
	})
}

// FuzzParseHeader feeds arbitrary bytes to the frame header parser. A
// refusal wraps exactly one of the protocol's sentinel errors and is what
// Decode reports for the same bytes; an accepted header is exactly what
// its eight bytes say, within the limits.
func FuzzParseHeader(f *testing.F) {
	for _, g := range goldenMessages() {
		b, err := os.ReadFile(goldenPath(g.name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:HeaderSize])
	}
	f.Add([]byte{magic, Version, byte(TypeSnapshot), FlagDeflate, 0, 0x80, 0, 0})
	f.Add(binary.BigEndian.AppendUint32([]byte{magic, Version, byte(TypeSnapshot), 0}, MaxFrameSize+1))
	f.Add([]byte{magic, Version + 1, 1, 0, 0, 0, 0, 0})
	f.Add([]byte{magic, Version, 0xff, 0, 0, 0, 0, 0})
	f.Add([]byte{magic, Version, byte(TypeAck), 0x80, 0, 0, 0, 0})
	f.Add(binary.BigEndian.AppendUint32([]byte{magic, Version, byte(TypeSnapshotRequest), 0}, 16<<10+1))
	f.Add([]byte{magic})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		hd, err := ParseHeader(b)
		if err != nil {
			if hd != (Header{}) {
				t.Fatalf("returned %+v with error %v", hd, err)
			}
			if len(classify(err)) != 1 {
				t.Fatalf("error %q wraps %v, want exactly one sentinel", err, classify(err))
			}
			if _, _, derr := Decode(b); derr == nil || derr.Error() != err.Error() {
				t.Fatalf("Decode says %v where ParseHeader says %v", derr, err)
			}
			return
		}
		if len(b) < HeaderSize || b[0] != magic || b[1] != Version {
			t.Fatalf("accepted %x", b)
		}
		if int64(hd.Length) > int64(LimitsOf(hd.Type).payloadLimit(hd.Flags)) || hd.Flags&^knownFlags != 0 || newMessage(hd.Type) == nil {
			t.Fatalf("accepted header %+v is out of limits", hd)
		}
		enc := binary.BigEndian.AppendUint32([]byte{magic, Version, byte(hd.Type), hd.Flags}, hd.Length)
		if !bytes.Equal(enc, b[:HeaderSize]) {
			t.Fatalf("header %+v encodes as %x, was %x", hd, enc, b[:HeaderSize])
		}
	})
}
