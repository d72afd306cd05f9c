// Package release is what every installer of Sonde shares: the release
// targets, reproducible builds of the binaries, and the artifacts'
// checksums. The packagers (deb and rpm, MSI, macOS pkg, the collector's
// OCI image) each take a Build and write their artifacts into its Out.
//
// Two builds of the same commit are byte-identical: binaries are built
// with CGO off, -trimpath, no VCS stamp and an empty build ID, and every
// timestamp in every artifact is Epoch (SOURCE_DATE_EPOCH, else the
// commit's time).
package release

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Target is an operating system and processor a release is built for.
type Target struct{ OS, Arch string }

func (t Target) String() string { return t.OS + "/" + t.Arch }

// The release targets. The collector and its packages are Linux only.
var (
	AgentTargets = []Target{{"linux", "amd64"}, {"linux", "arm64"}, {"windows", "amd64"}, {"darwin", "amd64"}, {"darwin", "arm64"}}
	LinuxTargets = []Target{{"linux", "amd64"}, {"linux", "arm64"}}
)

// The programs of a release, by their cmd/ folder.
const (
	Agent     = "sonde-agent"
	Collector = "sonde-collector"
	CLI       = "sonde"
)

// Build is one release being made.
type Build struct {
	// Root is the module's root folder.
	Root string
	// Version is the release version without a leading v ("0.4.0",
	// "0.4.0~dev.12.g1a2b3c4" between tags), as packages want it.
	Version string
	// Epoch is every timestamp artifacts carry.
	Epoch time.Time
	// Out is where artifacts go; binaries go to Out/bin/OS-ARCH/.
	Out string
}

// Bin returns the path of program built for t (see Binaries).
func (b *Build) Bin(program string, t Target) string {
	name := program
	if t.OS == "windows" {
		name += ".exe"
	}
	return filepath.Join(b.Out, "bin", t.OS+"-"+t.Arch, name)
}

// Binaries builds program for each target, reproducibly.
func (b *Build) Binaries(ctx context.Context, program string, targets []Target) error {
	for _, t := range targets {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false",
			"-ldflags", "-s -w -buildid= -X github.com/sondehq/sonde/internal/version.Version="+b.Version,
			"-o", b.Bin(program, t), "./cmd/"+program)
		cmd.Dir = b.Root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+t.OS, "GOARCH="+t.Arch, "GOFLAGS=-mod=readonly")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s for %s: %w\n%s", program, t, err, out)
		}
		if err := os.Chtimes(b.Bin(program, t), b.Epoch, b.Epoch); err != nil {
			return fmt.Errorf("building %s for %s: %w", program, t, err)
		}
	}
	return nil
}

// Epoch returns SOURCE_DATE_EPOCH when set, else the time of the commit
// checked out in root.
func Epoch(ctx context.Context, root string) (time.Time, error) {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a number of seconds", s)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	out, err := git(ctx, root, "log", "-1", "--format=%ct")
	if err != nil {
		return time.Time{}, fmt.Errorf("the commit's time (or set SOURCE_DATE_EPOCH): %w", err)
	}
	n, err := strconv.ParseInt(out, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("the commit's time: %q", out)
	}
	return time.Unix(n, 0).UTC(), nil
}

// Version returns the release version of the commit checked out in root:
// its tag without the v, or between tags "0.0.0~dev.N.gHASH" (N commits
// since the last tag, or since the start), which sorts below the next
// release in dpkg, rpm and MSI alike. SONDE_VERSION overrides it.
func Version(ctx context.Context, root string) (string, error) {
	if v := os.Getenv("SONDE_VERSION"); v != "" {
		return strings.TrimPrefix(v, "v"), nil
	}
	desc, err := git(ctx, root, "describe", "--tags", "--long", "--match", "v[0-9]*")
	if err != nil {
		n, err := git(ctx, root, "rev-list", "--count", "HEAD")
		if err != nil {
			return "", fmt.Errorf("the version: %w", err)
		}
		hash, err := git(ctx, root, "rev-parse", "--short=7", "HEAD")
		if err != nil {
			return "", fmt.Errorf("the version: %w", err)
		}
		return "0.0.0~dev." + n + ".g" + hash, nil
	}
	return fromDescribe(desc)
}

// fromDescribe turns `git describe --long` ("v1.2.3-4-gabcdef0") into a
// version: the tag on a tagged commit, else the tag~dev.N.gHASH.
func fromDescribe(desc string) (string, error) {
	i := strings.LastIndex(desc, "-g")
	j := strings.LastIndex(desc[:max(i, 0)], "-")
	if i < 0 || j <= 0 {
		return "", fmt.Errorf("the version: git describe said %q", desc)
	}
	tag, n, hash := strings.TrimPrefix(desc[:j], "v"), desc[j+1:i], desc[i+2:]
	if _, err := strconv.Atoi(n); err != nil || tag == "" || hash == "" {
		return "", fmt.Errorf("the version: git describe said %q", desc)
	}
	if n == "0" {
		return tag, nil
	}
	return tag + "~dev." + n + ".g" + hash, nil
}

func git(ctx context.Context, root string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// WriteSums writes SHA256SUMS in out for the given artifacts (paths under
// out), sorted by name, in the format sha256sum -c reads.
func WriteSums(out string, artifacts []string) error {
	var lines []string
	for _, a := range artifacts {
		data, err := os.ReadFile(a)
		if err != nil {
			return fmt.Errorf("checksums: %w", err)
		}
		rel, err := filepath.Rel(out, a)
		if err != nil {
			return fmt.Errorf("checksums: %w", err)
		}
		sum := sha256.Sum256(data)
		lines = append(lines, hex.EncodeToString(sum[:])+"  "+filepath.ToSlash(rel)+"\n")
	}
	slices.SortFunc(lines, func(a, b string) int { return strings.Compare(a[66:], b[66:]) })
	if err := os.WriteFile(filepath.Join(out, "SHA256SUMS"), []byte(strings.Join(lines, "")), 0o644); err != nil {
		return fmt.Errorf("checksums: %w", err)
	}
	return nil
}
