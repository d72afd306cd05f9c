package windows

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The environment of a release signed for real: PEM files of the
// code-signing certificate (with its chain) and its unencrypted key, and
// optionally an RFC 3161 timestamp server. Without them, the build signs
// with a throwaway certificate (see throwaway).
const (
	EnvSignCert         = "SONDE_SIGN_CERT"
	EnvSignKey          = "SONDE_SIGN_KEY"
	EnvSignTimestampURL = "SONDE_SIGN_TIMESTAMP_URL"
)

// signer signs executables and MSIs (Authenticode) with osslsigncode.
type signer struct {
	cert, key    string    // PEM files
	timestampURL string    // when set, signatures are timestamped (and not reproducible)
	time         time.Time // the signing time given when not timestamped
	throwaway    bool      // signed with the throwaway certificate
}

// newSigner signs with the certificate and key that getenv names, else
// with the throwaway certificate, written to dir.
func newSigner(dir string, epoch time.Time, getenv func(string) string) (*signer, error) {
	s := &signer{cert: getenv(EnvSignCert), key: getenv(EnvSignKey), timestampURL: getenv(EnvSignTimestampURL), time: epoch}
	switch {
	case s.cert != "" && s.key != "":
		return s, nil
	case s.cert != "" || s.key != "":
		return nil, fmt.Errorf("signing: set both %s and %s (PEM files), or neither for a throwaway certificate", EnvSignCert, EnvSignKey)
	}
	ca, leaf, key, err := throwaway()
	if err != nil {
		return nil, err
	}
	s.cert, s.key, s.throwaway = filepath.Join(dir, "sign-cert.pem"), filepath.Join(dir, "sign-key.pem"), true
	if err := os.WriteFile(s.cert, append(leaf, ca...), 0o600); err != nil {
		return nil, fmt.Errorf("writing the throwaway certificate: %w", err)
	}
	if err := os.WriteFile(s.key, key, 0o600); err != nil {
		return nil, fmt.Errorf("writing the throwaway key: %w", err)
	}
	return s, nil
}

// sign writes in, signed (SHA-256) with description, to out.
func (s *signer) sign(ctx context.Context, in, out, description string) error {
	if err := os.Remove(out); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("signing %s: %w", filepath.Base(in), err)
	}
	cmd := exec.CommandContext(ctx, "osslsigncode", s.args(in, out, description)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("signing %s: osslsigncode: %w: %s", filepath.Base(in), err, strings.TrimSpace(string(b)))
	}
	return nil
}

// args are osslsigncode's arguments to sign in into out: timestamped by
// the server when there is one, else with the signing time fixed, so that
// the signature is reproducible.
func (s *signer) args(in, out, description string) []string {
	args := []string{"sign", "-certs", s.cert, "-key", s.key, "-h", "sha256", "-n", description}
	if s.timestampURL != "" {
		args = append(args, "-ts", s.timestampURL)
	} else {
		args = append(args, "-time", strconv.FormatInt(s.time.Unix(), 10))
	}
	return append(args, "-in", in, "-out", out)
}
