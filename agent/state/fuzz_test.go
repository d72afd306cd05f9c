package state

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// identityFiles makes a real identity, as enrollment leaves it, and
// returns its files' contents: config, certificate, key and CA.
func identityFiles(tb testing.TB) (cfg, cert, key, ca []byte) {
	tb.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Sonde CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	agentKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(agentKey)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "ag-01J9Z3K7W4XQ8M2N5P6R"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		tb.Fatal(err)
	}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &agentKey.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	c := Config{AgentID: "ag-01J9Z3K7W4XQ8M2N5P6R", Collector: "collector.example.net:7443",
		EnrolledAt: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC), RequestKey: bytes.Repeat([]byte{7}, 32)}
	if err := Save(dir, c, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), certDER, caDER); err != nil {
		tb.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	if _, err := Load(dir); err != nil {
		tb.Fatalf("a saved identity does not load: %v", err)
	}
	return read(configFile), read(certFile), read(keyFile), read(caFile)
}

// FuzzLoad writes arbitrary files into a state dir and loads the identity.
// Nothing may panic; a refusal returns no identity; an accepted identity
// has a certificate with its key and a CA, and saves and loads back to the
// same.
func FuzzLoad(f *testing.F) {
	cfg, cert, key, ca := identityFiles(f)
	f.Add(cfg, cert, key, ca)
	f.Add([]byte(`{}`), cert, key, ca)
	f.Add([]byte(`{"agent_id":"a","request_key":"AAAA","enrolled_at":"0000-01-01T00:00:00+01:00"}`), cert, key, ca)
	f.Add(cfg, ca, key, cert)
	f.Add(cfg, cert, key, cert)
	f.Add(cfg, cert, cert, ca)
	f.Add(cfg, cert[:len(cert)/2], key, ca)
	f.Add(cfg, cert, key, ca[:len(ca)-30])
	f.Add(cfg, cert, key, []byte{})
	f.Add([]byte(`null`), []byte{}, []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, cfg, cert, key, ca []byte) {
		dir := t.TempDir()
		for _, file := range []struct {
			name string
			data []byte
		}{{configFile, cfg}, {certFile, cert}, {keyFile, key}, {caFile, ca}} {
			if err := os.WriteFile(filepath.Join(dir, file.name), file.data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		id, err := Load(dir)
		if err != nil {
			if id != nil {
				t.Fatalf("returned an identity with error %v", err)
			}
			if errors.Is(err, ErrNotEnrolled) {
				t.Fatalf("an identity with its config is taken for none: %v", err)
			}
			return
		}
		if id.CA == nil || len(id.Cert.Certificate) == 0 || id.Cert.PrivateKey == nil || id.Cert.Leaf == nil {
			t.Fatalf("incomplete identity: %+v", id)
		}
		if id.Pool() == nil {
			t.Fatal("no pool")
		}
		// What was loaded saves and loads back the same.
		again := t.TempDir()
		if err := Save(again, id.Config, key, id.Cert.Certificate[0], id.CA.Raw); err != nil {
			t.Fatalf("saving a loaded identity: %v", err)
		}
		id2, err := Load(again)
		if err != nil {
			t.Fatalf("a saved identity does not load: %v", err)
		}
		if id2.AgentID != id.AgentID || id2.Collector != id.Collector || !id2.EnrolledAt.Equal(id.EnrolledAt) ||
			!bytes.Equal(id2.RequestKey, id.RequestKey) || !bytes.Equal(id2.CA.Raw, id.CA.Raw) ||
			!bytes.Equal(id2.Cert.Certificate[0], id.Cert.Certificate[0]) {
			t.Fatalf("identity changes through Save and Load:\n%+v\n%+v", id.Config, id2.Config)
		}
	})
}
