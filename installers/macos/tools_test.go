//go:build packages

package macos

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sondehq/sonde/installers/release"
)

// TestPackageWithTools builds the real macOS agents and their packages,
// then reads each package with libarchive's bsdtar, which checks xar's
// checksums, and its payload with GNU cpio: readers other than ours.
func TestPackageWithTools(t *testing.T) {
	for _, tool := range []string{"bsdtar", "cpio"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: run make test-packages, which installs it (or apt-get install libarchive-tools cpio)", tool)
		}
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	b := &release.Build{Root: root, Version: "1.2.3", Epoch: epoch, Out: t.TempDir()}
	var darwin []release.Target
	for _, tg := range release.AgentTargets {
		if tg.OS == "darwin" {
			darwin = append(darwin, tg)
		}
	}
	ctx := context.Background()
	if err := b.Binaries(ctx, release.Agent, darwin); err != nil {
		t.Fatal(err)
	}
	pkgs, err := Build(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 2 {
		t.Fatalf("Build wrote %q, want two packages", pkgs)
	}
	for i, pkg := range pkgs {
		dir := t.TempDir()
		run(t, dir, nil, "bsdtar", "-xf", pkg)
		payload, err := os.ReadFile(filepath.Join(dir, "sonde-agent.pkg/Payload"))
		if err != nil {
			t.Fatal(err)
		}
		listing := run(t, dir, gunzip(t, payload), "cpio", "-it", "--quiet")
		var want []string
		for _, w := range wantPayload {
			want = append(want, w.path)
		}
		if got := strings.Fields(listing); !slices.Equal(got, want) {
			t.Errorf("%s: cpio lists %q, want %q", pkg, got, want)
		}
		out := filepath.Join(dir, "root")
		if err := os.Mkdir(out, 0o755); err != nil {
			t.Fatal(err)
		}
		run(t, out, gunzip(t, payload), "cpio", "-idm", "--quiet")
		agent, err := os.ReadFile(filepath.Join(out, "usr/local/bin/sonde-agent"))
		if err != nil {
			t.Fatal(err)
		}
		built, err := os.ReadFile(b.Bin(release.Agent, darwin[i]))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(agent, built) || !bytes.HasPrefix(agent, []byte{0xcf, 0xfa, 0xed, 0xfe}) {
			t.Errorf("%s: the extracted agent is not the %s Mach-O built", pkg, darwin[i])
		}
		if st, err := os.Stat(filepath.Join(out, "usr/local/bin/sonde-agent")); err != nil || st.Mode().Perm() != 0o755 || !st.ModTime().Equal(epoch) {
			t.Errorf("%s: the extracted agent: %v %v", pkg, st.Mode(), err)
		}
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	cmd := exec.Command("gzip", "-dc")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gzip -dc: %v", err)
	}
	return out
}

func run(t *testing.T, dir string, stdin []byte, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}
