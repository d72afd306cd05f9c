package windows

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/sondehq/sonde/installers/release"
)

// Target is the platform of the MSI.
var Target = release.Target{OS: "windows", Arch: "amd64"}

// Name returns the file name of the MSI of a release version.
func Name(version string) string { return "sonde-agent-" + version + "-x64.msi" }

// Build makes b.Out/sonde-agent-VERSION-x64.msi from the agent built for
// Target (release.Build.Binaries), and returns its path. The executable
// inside is signed, then the MSI; b's binary itself is left as it is.
func Build(ctx context.Context, b *release.Build) ([]string, error) {
	for _, t := range []string{"wixl", "msibuild", "msiinfo", "osslsigncode"} {
		if _, err := exec.LookPath(t); err != nil {
			return nil, fmt.Errorf("the MSI needs %s (Debian: apt-get install wixl msitools osslsigncode): %w", t, err)
		}
	}
	p, err := newProduct(b.Version)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "sonde-msi-")
	if err != nil {
		return nil, fmt.Errorf("the MSI: %w", err)
	}
	defer os.RemoveAll(work)
	s, err := newSigner(work, b.Epoch, os.Getenv)
	if err != nil {
		return nil, err
	}
	if s.throwaway {
		fmt.Fprintf(os.Stderr, "windows: signed with a throwaway certificate, which Windows does not trust: set %s and %s\n", EnvSignCert, EnvSignKey)
	}
	exe := filepath.Join(work, exeName)
	if err := s.sign(ctx, b.Bin(release.Agent, Target), exe, "Sonde agent"); err != nil {
		return nil, err
	}
	// The cabinet records the file's time.
	if err := os.Chtimes(exe, b.Epoch, b.Epoch); err != nil {
		return nil, fmt.Errorf("the MSI: %w", err)
	}
	wxs, err := p.wxs()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(work, "agent.wxs"), wxs, 0o644); err != nil {
		return nil, fmt.Errorf("the MSI: %w", err)
	}
	unsigned := filepath.Join(work, "agent.msi")
	if err := tool(ctx, work, "wixl", "--arch", "x64", "-o", unsigned, "agent.wxs"); err != nil {
		return nil, fmt.Errorf("building the MSI: %w", err)
	}
	code, err := packageCode(wxs, exe)
	if err != nil {
		return nil, err
	}
	if err := addTables(ctx, unsigned, work, p, code, b.Epoch); err != nil {
		return nil, err
	}
	if err := checkTables(ctx, unsigned, code); err != nil {
		return nil, err
	}
	out := filepath.Join(b.Out, Name(b.Version))
	if err := os.MkdirAll(b.Out, 0o755); err != nil {
		return nil, fmt.Errorf("the MSI: %w", err)
	}
	if err := s.sign(ctx, unsigned, out, "Sonde agent "+b.Version); err != nil {
		return nil, err
	}
	if err := os.Chtimes(out, b.Epoch, b.Epoch); err != nil {
		return nil, fmt.Errorf("the MSI: %w", err)
	}
	return []string{out}, nil
}

// packageCode derives the MSI's package code, which must differ between
// any two MSIs that differ, from what makes it: the .wxs and the signed
// executable.
func packageCode(wxs []byte, exe string) (string, error) {
	f, err := os.Open(exe)
	if err != nil {
		return "", fmt.Errorf("the package code: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	h.Write(wxs)
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("the package code: %w", err)
	}
	return guid("sonde-agent", "package", hex.EncodeToString(h.Sum(nil))), nil
}
