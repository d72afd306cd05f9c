package state

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFormat: state is written with this agent's format and read back; a
// later format, left by a newer agent, is refused with a message that
// says what to do, and left as it is.
func TestFormat(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(1), NotAfter: time.Now().Add(time.Hour)},
		&x509.Certificate{SerialNumber: big.NewInt(1)}, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	dir := filepath.Join(t.TempDir(), "agent")
	if err := Save(dir, Config{AgentID: "a1", Collector: "c:7443"}, keyPEM, der, der); err != nil {
		t.Fatal(err)
	}
	id, err := Load(dir)
	if err != nil || id.Format != Format || id.AgentID != "a1" {
		t.Fatalf("loaded %+v, %v", id, err)
	}
	path := filepath.Join(dir, configFile)
	newer := []byte(`{"format": 2, "agent_id": "a1", "collector": "c:7443"}`)
	os.WriteFile(path, newer, 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "written by a newer sonde-agent (state format 2; this one reads up to 1)") {
		t.Errorf("a newer format: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != string(newer) {
		t.Errorf("the newer state was changed: %s", b)
	}
	// State from before the format was recorded reads as format 1.
	os.WriteFile(path, []byte(`{"agent_id": "a1", "collector": "c:7443"}`), 0o644)
	if id, err := Load(dir); err != nil || id.AgentID != "a1" {
		t.Errorf("state without a format: %v", err)
	}
}
