package windows

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestNewSigner: the environment's certificate and key, both or neither;
// without them, the throwaway certificate, with its CA as the chain.
func TestNewSigner(t *testing.T) {
	epoch := time.Unix(1750000000, 0)
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	s, err := newSigner(t.TempDir(), epoch, env(map[string]string{EnvSignCert: "/k/cert.pem", EnvSignKey: "/k/key.pem"}))
	if err != nil || s.throwaway || s.cert != "/k/cert.pem" || s.key != "/k/key.pem" {
		t.Fatalf("from the environment: %+v %v", s, err)
	}
	want := []string{"sign", "-certs", "/k/cert.pem", "-key", "/k/key.pem", "-h", "sha256", "-n", "Sonde agent", "-time", "1750000000", "-in", "a.exe", "-out", "b.exe"}
	if got := s.args("a.exe", "b.exe", "Sonde agent"); !slices.Equal(got, want) {
		t.Errorf("osslsigncode %q, want %q", got, want)
	}
	s.timestampURL = "http://tsa.invalid/"
	if got := strings.Join(s.args("a.exe", "b.exe", "Sonde agent"), " "); !strings.Contains(got, "-ts http://tsa.invalid/ -in") || strings.Contains(got, "-time") {
		t.Errorf("with a timestamp server: osslsigncode %s", got)
	}

	if _, err := newSigner(t.TempDir(), epoch, env(map[string]string{EnvSignCert: "/k/cert.pem"})); err == nil || !strings.Contains(err.Error(), "set both SONDE_SIGN_CERT and SONDE_SIGN_KEY") {
		t.Errorf("a certificate without its key: %v", err)
	}

	s, err = newSigner(t.TempDir(), epoch, env(nil))
	if err != nil || !s.throwaway {
		t.Fatalf("throwaway: %+v %v", s, err)
	}
	ca, leaf, key, err := throwaway()
	if err != nil {
		t.Fatal(err)
	}
	certs, _ := os.ReadFile(s.cert)
	keyFile, _ := os.ReadFile(s.key)
	if !bytes.Equal(certs, append(leaf, ca...)) || !bytes.Equal(keyFile, key) {
		t.Error("the throwaway files are not the certificate, its CA and its key")
	}
}
