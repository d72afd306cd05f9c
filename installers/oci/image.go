package oci

import (
	"bytes"
	"compress/gzip"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"

	"github.com/sondehq/sonde/installers/release"
)

// The image's user, its data volume and how the collector runs in it.
const (
	UID     = 65532
	User    = "65532:65532"
	DataDir = "/data"
)

var (
	entrypoint = []string{"/usr/bin/" + release.Collector}
	cmd        = []string{"serve", "--data", DataDir, "--quic", ":7443", "--http", ":7080"}
	// ports: agents' QUIC, then the API, UI and /metrics.
	ports = []string{"7443/udp", "7080/tcp"}
)

const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
		"sonde:x:65532:65532:sonde:/data:/sbin/nologin\n"
	group = "root:x:0:\nnobody:x:65534:\nsonde:x:65532:\n"
)

// image is the collector's image for t: one layer, run as sonde.
func image(b *release.Build, t release.Target, revision string) (v1.Image, error) {
	files, err := rootfs(b, t)
	if err != nil {
		return nil, err
	}
	layer, err := gzipLayer(files, b.Epoch)
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: b.Epoch.UTC()}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{
		Created:   created,
		CreatedBy: "go run ./installers/build",
		Comment:   "sonde-collector and sonde in /usr/bin, user sonde (65532), /data, /tmp, CA certificates",
	}})
	if err != nil {
		return nil, fmt.Errorf("the base image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("the image configuration: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Created = created
	cf.OS, cf.Architecture = t.OS, t.Arch
	cf.Config = v1.Config{
		User:         User,
		Entrypoint:   entrypoint,
		Cmd:          cmd,
		Env:          []string{"PATH=/usr/bin"},
		ExposedPorts: set(ports...),
		Volumes:      set(DataDir),
		WorkingDir:   DataDir,
		Labels:       labels(b, revision),
	}
	out, err := mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("setting the image configuration: %w", err)
	}
	return out, nil
}

func set(keys ...string) map[string]struct{} {
	m := map[string]struct{}{}
	for _, k := range keys {
		m[k] = struct{}{}
	}
	return m
}

// rootfs is the image's one layer: everything the collector needs, the
// CLI for `podman exec`, and nothing else (no shell, no libc: the binaries
// are static).
func rootfs(b *release.Build, t release.Target) ([]entry, error) {
	collector, err := os.ReadFile(b.Bin(release.Collector, t))
	if err != nil {
		return nil, fmt.Errorf("reading the collector binary: %w", err)
	}
	cli, err := os.ReadFile(b.Bin(release.CLI, t))
	if err != nil {
		return nil, fmt.Errorf("reading the CLI binary: %w", err)
	}
	certs, err := caCertificates()
	if err != nil {
		return nil, err
	}
	return []entry{
		{name: "data/", mode: 0o700, owner: UID},
		{name: "etc/", mode: 0o755},
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		{name: "etc/ssl/", mode: 0o755},
		{name: "etc/ssl/certs/", mode: 0o755},
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: certs},
		{name: "tmp/", mode: 0o1777},
		{name: "usr/", mode: 0o755},
		{name: "usr/bin/", mode: 0o755},
		{name: "usr/bin/" + release.CLI, mode: 0o755, data: cli},
		{name: "usr/bin/" + release.Collector, mode: 0o755, data: collector},
	}, nil
}

// caCertificates is the NSS (Mozilla) roots of the pinned x509roots
// bundle as PEM. A root with a constraint PEM cannot carry (a distrust
// date) is left out: refusing its certificates is the safe side.
func caCertificates() ([]byte, error) {
	var out bytes.Buffer
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		if err := pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate}); err != nil {
			return nil, fmt.Errorf("CA certificates: %w", err)
		}
	}
	return out.Bytes(), nil
}

// gzipLayer is files as a gzip-compressed OCI layer, compressed once here
// (gzip's header carries no time or name) so that ggcr reuses the bytes.
func gzipLayer(files []entry, mtime time.Time) (v1.Layer, error) {
	var tarred, zipped bytes.Buffer
	if err := writeTar(&tarred, files, mtime); err != nil {
		return nil, fmt.Errorf("the layer: %w", err)
	}
	zw := gzip.NewWriter(&zipped)
	if _, err := zw.Write(tarred.Bytes()); err != nil {
		return nil, fmt.Errorf("the layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("the layer: %w", err)
	}
	data := zipped.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("the layer: %w", err)
	}
	return layer, nil
}

// multiArch is the index of imgs (one per release.LinuxTargets, in order)
// with their platforms, annotated like the images are labelled.
func multiArch(imgs []v1.Image, annotations map[string]string) (v1.ImageIndex, error) {
	var adds []mutate.IndexAddendum
	for i, t := range release.LinuxTargets {
		adds = append(adds, mutate.IndexAddendum{Add: plainImage{imgs[i]}, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: t.OS, Architecture: t.Arch},
		}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	idx, ok := mutate.Annotations(idx, annotations).(v1.ImageIndex)
	if !ok {
		return nil, fmt.Errorf("annotating the index: not an index")
	}
	return idx, nil
}

// plainImage keeps ggcr from giving an image's index entry the
// artifactType the OCI spec reserves for artifacts (it would repeat the
// config's media type).
type plainImage struct{ v1.Image }

func (plainImage) ArtifactType() (string, error) { return "", nil }
