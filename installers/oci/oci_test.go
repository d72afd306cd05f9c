package oci

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/sondehq/sonde/installers/release"
)

const (
	testVersion = "1.2.3~dev.4.gabcdef0"
	testTag     = "1.2.3-dev.4.gabcdef0"
)

var testEpoch = time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)

// fakeBuild is a release of fake binaries, each saying what and for which
// target it is, so that a test can tell an arm64 layer from an amd64 one.
func fakeBuild(t *testing.T) *release.Build {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	b := &release.Build{Root: root, Version: testVersion, Epoch: testEpoch, Out: t.TempDir()}
	for _, tg := range release.LinuxTargets {
		for _, p := range []string{release.Collector, release.CLI} {
			if err := os.MkdirAll(filepath.Dir(b.Bin(p, tg)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(b.Bin(p, tg), fakeBinary(p, tg), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return b
}

func fakeBinary(program string, t release.Target) []byte {
	return []byte("\x7fELF fake " + program + " for " + t.String() + "\n")
}

func build(t *testing.T, b *release.Build) []string {
	t.Helper()
	got, err := Build(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestBuildArtifactsAreReproducible(t *testing.T) {
	b1, b2 := fakeBuild(t), fakeBuild(t)
	a1, a2 := build(t, b1), build(t, b2)
	want := []string{
		"sonde-collector-" + testVersion + "-oci.tar",
		"sonde-collector-" + testVersion + "-docker-amd64.tar",
		"sonde-collector-" + testVersion + "-docker-arm64.tar",
	}
	for i, name := range want {
		if a1[i] != filepath.Join(b1.Out, name) || a2[i] != filepath.Join(b2.Out, name) {
			t.Fatalf("artifacts %q and %q, want %q", a1, a2, want)
		}
		if s1, s2 := sum(t, a1[i]), sum(t, a2[i]); s1 != s2 {
			t.Errorf("%s differs between two builds: %x and %x", name, s1, s2)
		}
	}
	// A different epoch must show: the timestamps really come from it.
	b3 := fakeBuild(t)
	b3.Epoch = testEpoch.Add(time.Hour)
	if a3 := build(t, b3); sum(t, a3[0]) == sum(t, a1[0]) {
		t.Error("the layout does not change with the epoch")
	}
}

func sum(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

func TestLayoutHoldsTheMultiArchIndex(t *testing.T) {
	b := fakeBuild(t)
	dir := untar(t, build(t, b)[0])
	top, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(top); err != nil {
		t.Fatalf("the layout does not verify: %v", err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(tm.Manifests) != 1 || tm.Manifests[0].MediaType != types.OCIImageIndex || tm.Manifests[0].Annotations[RefName] != testTag ||
		tm.Manifests[0].Annotations[ImageName] != "localhost/sonde-collector:"+testTag {
		t.Fatalf("index.json holds %+v, want one OCI index tagged %s", tm.Manifests, testTag)
	}
	idx, err := top.ImageIndex(tm.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.Annotations["org.opencontainers.image.version"] != testVersion {
		t.Errorf("index annotations %v", im.Annotations)
	}
	if len(im.Manifests) != len(release.LinuxTargets) {
		t.Fatalf("the index holds %d images, want %d", len(im.Manifests), len(release.LinuxTargets))
	}
	for i, tg := range release.LinuxTargets {
		desc := im.Manifests[i]
		if desc.Platform == nil || desc.Platform.OS != tg.OS || desc.Platform.Architecture != tg.Arch ||
			desc.MediaType != types.OCIManifestSchema1 || desc.ArtifactType != "" {
			t.Errorf("image %d is %+v, want an OCI image for %s", i, desc, tg)
		}
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON ||
			len(m.Layers) != 1 || m.Layers[0].MediaType != types.OCILayer {
			t.Errorf("%s: manifest %+v, want OCI media types and one gzip layer", tg, m)
		}
		checkImage(t, img, tg)
	}
}

func checkImage(t *testing.T, img v1.Image, tg release.Target) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if cf.OS != tg.OS || cf.Architecture != tg.Arch || !cf.Created.Time.Equal(testEpoch) {
		t.Errorf("%s: config is for %s/%s created %v", tg, cf.OS, cf.Architecture, cf.Created)
	}
	if c.User != "65532:65532" || c.WorkingDir != "/data" ||
		!slices.Equal(c.Entrypoint, []string{"/usr/bin/sonde-collector"}) ||
		!slices.Equal(c.Cmd, []string{"serve", "--data", "/data", "--quic", ":7443", "--http", ":7080"}) {
		t.Errorf("%s: runs %q %q as %q in %q", tg, c.Entrypoint, c.Cmd, c.User, c.WorkingDir)
	}
	if len(c.ExposedPorts) != 2 || c.ExposedPorts["7443/udp"] != struct{}{} || c.ExposedPorts["7080/tcp"] != struct{}{} {
		t.Errorf("%s: exposes %v", tg, c.ExposedPorts)
	}
	if _, ok := c.Volumes["/data"]; !ok || len(c.Volumes) != 1 {
		t.Errorf("%s: volumes %v", tg, c.Volumes)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.title":   "sonde-collector",
		"org.opencontainers.image.version": testVersion,
		"org.opencontainers.image.source":  Source,
		"org.opencontainers.image.created": "2026-03-01T12:30:00Z",
	} {
		if c.Labels[k] != want {
			t.Errorf("%s: label %s = %q, want %q", tg, k, c.Labels[k], want)
		}
	}
	if rev := c.Labels["org.opencontainers.image.revision"]; !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(rev) {
		t.Errorf("%s: revision label %q, want the commit", tg, rev)
	}
	if len(cf.History) != 1 || !cf.History[0].Created.Time.Equal(testEpoch) || len(cf.RootFS.DiffIDs) != 1 {
		t.Errorf("%s: history %+v, rootfs %+v", tg, cf.History, cf.RootFS)
	}
	checkLayer(t, img, tg)
}

// checkLayer reads the image's one layer: every file, its type, mode,
// owner and time, and what the files hold.
func checkLayer(t *testing.T, img v1.Image, tg release.Target) {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := ls[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	type file struct {
		mode int64
		uid  int
	}
	want := map[string]file{
		"data/": {0o700, 65532}, "etc/": {0o755, 0}, "etc/group": {0o644, 0}, "etc/passwd": {0o644, 0},
		"etc/ssl/": {0o755, 0}, "etc/ssl/certs/": {0o755, 0}, "etc/ssl/certs/ca-certificates.crt": {0o644, 0},
		"tmp/": {0o1777, 0}, "usr/": {0o755, 0}, "usr/bin/": {0o755, 0},
		"usr/bin/sonde": {0o755, 0}, "usr/bin/sonde-collector": {0o755, 0},
	}
	got := map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		w, ok := want[h.Name]
		isDir := strings.HasSuffix(h.Name, "/")
		switch {
		case !ok:
			t.Errorf("%s: unexpected %s in the layer", tg, h.Name)
		case h.Mode != w.mode || h.Uid != w.uid || h.Gid != w.uid || !h.ModTime.Equal(testEpoch) ||
			isDir != (h.Typeflag == tar.TypeDir) || !isDir && h.Typeflag != tar.TypeReg:
			t.Errorf("%s: %s is type %c mode %o owner %d:%d time %v", tg, h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.ModTime)
		}
		if got[h.Name], err = io.ReadAll(tr); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: the layer holds %d files, want %d", tg, len(got), len(want))
	}
	for _, p := range []string{release.Collector, release.CLI} {
		if !bytes.Equal(got["usr/bin/"+p], fakeBinary(p, tg)) {
			t.Errorf("%s: /usr/bin/%s holds %q", tg, p, got["usr/bin/"+p])
		}
	}
	if !bytes.Contains(got["etc/passwd"], []byte("\nsonde:x:65532:65532:")) || !bytes.Contains(got["etc/group"], []byte("\nsonde:x:65532:")) {
		t.Errorf("%s: no user sonde in\n%s%s", tg, got["etc/passwd"], got["etc/group"])
	}
	if n := countCertificates(t, got["etc/ssl/certs/ca-certificates.crt"]); n < 100 {
		t.Errorf("%s: %d CA certificates", tg, n)
	}
}

func countCertificates(t *testing.T, data []byte) int {
	n := 0
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			t.Errorf("CA certificate %d: %v", n, err)
		}
		n++
	}
	if len(bytes.TrimSpace(data)) != 0 {
		t.Errorf("the CA bundle ends in %d bytes that are no PEM", len(data))
	}
	return n
}

// untar extracts an archive this package wrote into a new folder,
// checking that every member is root's, has the epoch's time and comes in
// order.
func untar(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	tr := tar.NewReader(f)
	prev := ""
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(testEpoch) || h.Name <= prev {
			t.Errorf("%s: %s owned by %d:%d, time %v, after %s", path, h.Name, h.Uid, h.Gid, h.ModTime, prev)
		}
		prev = h.Name
		target := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			err = os.MkdirAll(target, 0o755)
		} else {
			var data []byte
			if data, err = io.ReadAll(tr); err == nil {
				err = os.WriteFile(target, data, 0o644)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestDockerArchivesHoldTheSameImages(t *testing.T) {
	b := fakeBuild(t)
	artifacts := build(t, b)
	top, err := layout.ImageIndexFromPath(untar(t, artifacts[0]))
	if err != nil {
		t.Fatal(err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := top.ImageIndex(tm.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for i, tg := range release.LinuxTargets {
		path := artifacts[1+i]
		untar(t, path) // checks owners, times and order
		m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(path) })
		if err != nil {
			t.Fatal(err)
		}
		if len(m) != 1 || !slices.Equal(m[0].RepoTags, []string{"sonde-collector:" + testTag}) {
			t.Errorf("%s: manifest.json %+v, want one image tagged sonde-collector:%s", path, m, testTag)
		}
		img, err := tarball.ImageFromPath(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(img); err != nil {
			t.Fatalf("%s does not verify: %v", path, err)
		}
		checkImage(t, img, tg)
		want, err := idx.Image(im.Manifests[i].Digest)
		if err != nil {
			t.Fatal(err)
		}
		if a, b := configName(t, img), configName(t, want); a != b {
			t.Errorf("%s: config %s, the layout's %s image has %s", path, a, tg, b)
		}
	}
}

func configName(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestBuildNamesAMissingBinary(t *testing.T) {
	b := fakeBuild(t)
	missing := b.Bin(release.CLI, release.Target{OS: "linux", Arch: "arm64"})
	if err := os.Remove(missing); err != nil {
		t.Fatal(err)
	}
	_, err := Build(context.Background(), b)
	if err == nil || !strings.Contains(err.Error(), "linux/arm64 image") || !strings.Contains(err.Error(), missing) {
		t.Fatalf("Build without %s: %v", missing, err)
	}
}

func TestTag(t *testing.T) {
	for version, want := range map[string]string{
		"0.4.0":                  "0.4.0",
		"0.0.0~dev.12.g1a2b3c4":  "0.0.0-dev.12.g1a2b3c4",
		"1.0.0+build.5":          "1.0.0-build.5",
		".hidden":                "_hidden",
		"-x":                     "_x",
		"":                       "latest",
		strings.Repeat("9", 200): strings.Repeat("9", 128),
		"1.0_rc1":                "1.0_rc1",
		"ü":                      "_-",
	} {
		if got := Tag(version); got != want {
			t.Errorf("Tag(%q) = %q, want %q", version, got, want)
		}
	}
}
