package loadgen

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/state"
	"github.com/sondehq/sonde/protocol"
)

// testCA is a CA that issues agent identities as the collector does.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pin  string
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pin: protocol.Pin(cert)}
}

// save writes agent i's identity, valid for life, for collector addr in
// the cache under root.
func (ca *testCA) save(t *testing.T, root, addr string, i int, life time.Duration) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	id := fmt.Sprintf("%020d", i)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: id}, NotBefore: time.Now().Add(-time.Minute),
		NotAfter: time.Now().Add(life), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := x509.MarshalPKCS8PrivateKey(key)
	dir, err := cacheDir(root, ca.pin)
	if err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(dir, agentDir(i))
	cfg := state.Config{AgentID: id, Collector: addr, EnrolledAt: time.Now(), RequestKey: make([]byte, 32)}
	if err := state.Save(dir, cfg, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k}), der, ca.cert.Raw); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestCacheReused: identities cached for the collector are used as they
// are, with no token and nothing enrolled, each with its own facts.
func TestCacheReused(t *testing.T) {
	ca, root, addr := newTestCA(t), t.TempDir(), "127.0.0.1:7443"
	want := []string{ca.save(t, root, addr, 0, time.Hour*24), ca.save(t, root, addr, 1, time.Hour*24)}
	ids, enrolled, err := LoadOrEnroll(t.Context(), Enrollment{Dir: root, Collector: addr, Pin: ca.pin, N: 2, Facts: protocol.Facts{OS: "linux"}})
	if err != nil || enrolled != 0 {
		t.Fatalf("enrolled %d: %v", enrolled, err)
	}
	for i, id := range ids {
		if id.AgentID != want[i] || id.Facts.Hostname != fmt.Sprintf("loadgen-%05d", i) || id.Facts.OS != "linux" || id.Facts.HostID == "" {
			t.Errorf("agent %d: %s %+v", i, id.AgentID, id.Facts)
		}
	}

	// The same collector on another port (bench picks a free one each
	// run): the same identities, nothing enrolled.
	again, enrolled, err := LoadOrEnroll(t.Context(), Enrollment{Dir: root, Collector: "127.0.0.1:9999", Pin: ca.pin, N: 2})
	if err != nil || enrolled != 0 || again[0].AgentID != want[0] || again[1].AgentID != want[1] {
		t.Fatalf("on another port: enrolled %d: %v", enrolled, err)
	}

	// One more than cached, and no token: say how to make one.
	_, _, err = LoadOrEnroll(t.Context(), Enrollment{Dir: root, Collector: addr, Pin: ca.pin, N: 3})
	if !errors.Is(err, ErrNeedToken) || !strings.Contains(err.Error(), "1 of 3") || !strings.Contains(err.Error(), "--uses 1") {
		t.Errorf("missing one: %v", err)
	}
}

// TestCacheRefuses: an identity of another CA, or about to expire, is
// enrolled again, not used.
func TestCacheRefuses(t *testing.T) {
	ca, other, root := newTestCA(t), newTestCA(t), t.TempDir()
	ca.save(t, root, "127.0.0.1:7443", 0, 24*time.Hour)
	ca.save(t, root, "127.0.0.1:7443", 1, 30*time.Minute)
	dir, _ := cacheDir(root, ca.pin)
	if _, err := cached(filepath.Join(dir, agentDir(0)), ca.pin); err != nil {
		t.Fatalf("a sound identity refused: %v", err)
	}
	for name, err := range map[string]error{
		"another CA": func() error { _, err := cached(filepath.Join(dir, agentDir(0)), other.pin); return err }(),
		"expiring":   func() error { _, err := cached(filepath.Join(dir, agentDir(1)), ca.pin); return err }(),
		"none":       func() error { _, err := cached(filepath.Join(dir, agentDir(2)), ca.pin); return err }(),
	} {
		if err == nil {
			t.Errorf("%s: cached identity used", name)
		}
	}
	// The other CA's cache is another folder: nothing of this one shows.
	if _, _, err := LoadOrEnroll(t.Context(), Enrollment{Dir: root, Collector: "127.0.0.1:7443", Pin: other.pin, N: 1}); !errors.Is(err, ErrNeedToken) {
		t.Errorf("another CA's cache: %v", err)
	}
}

func TestEnrollmentChecks(t *testing.T) {
	pin := "sha256:" + strings.Repeat("ab", 32)
	for name, e := range map[string]Enrollment{
		"no agents":  {Dir: t.TempDir(), Collector: "127.0.0.1:7443", Pin: pin},
		"no cache":   {Collector: "127.0.0.1:7443", Pin: pin, N: 1},
		"bad pin":    {Dir: t.TempDir(), Collector: "127.0.0.1:7443", Pin: "md5:abc", N: 1},
		"short pin":  {Dir: t.TempDir(), Collector: "127.0.0.1:7443", Pin: "sha256:abc", N: 1},
		"no address": {Dir: t.TempDir(), Pin: pin, N: 1},
		"uppercase":  {Dir: t.TempDir(), Collector: "127.0.0.1:7443", Pin: "sha256:" + strings.Repeat("AB", 32), N: 1},
	} {
		if _, _, err := LoadOrEnroll(t.Context(), e); err == nil || errors.Is(err, ErrNeedToken) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
