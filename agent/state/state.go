// Package state keeps the agent's identity on disk: its private key (made on
// the machine, never sent anywhere, mode 0600), its certificate, the pinned
// collector CA and the collector's address.
package state

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/sondehq/sonde/internal/atomicfile"
)

// Files in the state dir.
const (
	keyFile    = "agent.key"
	certFile   = "agent.pem"
	caFile     = "ca.pem"
	configFile = "agent.json"
)

// ErrNotEnrolled is returned by Load when the dir holds no identity.
var ErrNotEnrolled = errors.New("this agent is not enrolled: run `sonde-agent enroll --collector HOST:PORT --token T --ca-pin sha256:...` first")

// DefaultDir is where the agent keeps its state unless told otherwise.
func DefaultDir() string {
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		return SystemDir()
	}
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "sonde-agent")
	}
	return ".sonde-agent"
}

// Format is the version of the state's layout this agent writes and
// reads. An agent refuses state of a later format, which a newer version
// left: a downgrade must not misread it nor overwrite it.
const Format = 1

// Config is the non-secret part of the identity.
type Config struct {
	// Format is the layout version (see Format); 0 in state written
	// before it was recorded, which is format 1.
	Format     int       `json:"format,omitempty"`
	AgentID    string    `json:"agent_id"`
	Collector  string    `json:"collector"` // host:port
	EnrolledAt time.Time `json:"enrolled_at"`
	// RequestKey is the collector's Ed25519 request-signing key, learnt at
	// enrollment: the agent answers only requests it signed.
	RequestKey []byte `json:"request_key"`
}

// Identity is everything the agent needs to connect.
type Identity struct {
	Config
	Cert tls.Certificate
	CA   *x509.Certificate
}

// Pool returns a pool holding only the pinned CA.
func (id *Identity) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(id.CA)
	return p
}

// Save writes an identity to dir. keyPEM is the PKCS #8 private key.
func Save(dir string, cfg Config, keyPEM, certDER, caDER []byte) error {
	// The folders above the state dir stay passable, so that its public
	// folder beside it can be reached (see PublicDir).
	if err := os.MkdirAll(filepath.Dir(filepath.Clean(dir)), 0o755); err != nil {
		return fmt.Errorf("saving the identity: creating the state dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("saving the identity: creating the state dir: %w", err)
	}
	if err := restrict(dir); err != nil {
		return fmt.Errorf("saving the identity: %w", err)
	}
	cfg.Format = Format
	cfgJSON, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("saving the identity: encoding its config: %w", err)
	}
	// The config goes last: its presence marks a complete identity.
	for _, f := range []struct {
		name string
		data []byte
		perm os.FileMode
	}{
		{keyFile, keyPEM, 0o600},
		{certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}), 0o644},
		{caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644},
		{configFile, append(cfgJSON, '\n'), 0o644},
	} {
		if err := atomicfile.Write(filepath.Join(dir, f.name), f.data, f.perm); err != nil {
			return fmt.Errorf("saving the identity: %w", err)
		}
	}
	return nil
}

// Load reads the identity in dir.
func Load(dir string) (*Identity, error) {
	raw, err := os.ReadFile(filepath.Join(dir, configFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotEnrolled
	}
	if err != nil {
		return nil, fmt.Errorf("loading the identity: %w", err)
	}
	var id Identity
	if err := json.Unmarshal(raw, &id.Config); err != nil {
		return nil, fmt.Errorf("loading the identity: %s: %w", configFile, err)
	}
	if id.Format > Format {
		return nil, fmt.Errorf("the state in %s was written by a newer sonde-agent (state format %d; this one reads up to %d): "+
			"install that version again; this older one will not read or change it", dir, id.Format, Format)
	}
	id.Cert, err = tls.LoadX509KeyPair(filepath.Join(dir, certFile), filepath.Join(dir, keyFile))
	if err != nil {
		return nil, fmt.Errorf("loading the agent certificate: %w", err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, caFile))
	if err != nil {
		return nil, fmt.Errorf("loading the pinned CA: %w", err)
	}
	block, _ := pem.Decode(caPEM)
	if block == nil {
		return nil, fmt.Errorf("loading the pinned CA: %s holds no certificate", caFile)
	}
	if id.CA, err = x509.ParseCertificate(block.Bytes); err != nil {
		return nil, fmt.Errorf("loading the pinned CA: %s: %w", caFile, err)
	}
	return &id, nil
}
