// Package oci builds the collector's container image without Docker or a
// registry: an OCI image layout in a tarball, sonde-collector-VERSION-oci.tar,
// holding one multi-arch index for linux/amd64 and linux/arm64, and for
// `docker load` a docker-archive per architecture,
// sonde-collector-VERSION-docker-ARCH.tar, holding the same image.
//
// Each image is distroless: one layer with the collector and the CLI in
// /usr/bin, a non-root user sonde (65532:65532) in /etc/passwd and
// /etc/group, the data volume /data owned by that user, /tmp, and Mozilla's
// root certificates in /etc/ssl/certs/ca-certificates.crt, where Go looks
// first, because --webhook and --alertmanager may be https:// URLs. The
// certificates come from Go's x509roots bundle at the version go.sum pins,
// not from the build machine, so that every machine builds the same bytes.
// The image runs `sonde-collector serve --data /data --quic :7443 --http
// :7080` as sonde.
//
// The layout's index.json names one entry, the multi-arch index, tagged
// with the version (org.opencontainers.image.ref.name), so that
//
//	skopeo copy --all oci-archive:sonde-collector-VERSION-oci.tar docker://REGISTRY/sonde/sonde-collector:VERSION
//	podman load -i sonde-collector-VERSION-oci.tar
//
// copy both architectures to a registry, or load the host's one as
// localhost/sonde-collector:VERSION (VERSION as a tag: "~" and "+" become
// "-"). Docker's classic image store reads only docker-archives, hence
//
//	docker load -i sonde-collector-VERSION-docker-amd64.tar
//
// which names it sonde-collector:VERSION. Every timestamp is the
// release's Epoch and every owner fixed, so two builds of a commit are
// byte-identical.
package oci

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/sondehq/sonde/installers/release"
)

// Name is the image's repository name; Source is where its code lives.
const (
	Name   = "sonde-collector"
	Source = "https://github.com/sondehq/sonde"
)

// Build writes the OCI image layout of b's collector and a docker-archive
// per architecture into b.Out, from the binaries b.Binaries built, and
// returns their paths.
func Build(ctx context.Context, b *release.Build) ([]string, error) {
	rev := revision(ctx, b.Root)
	var imgs []v1.Image
	for _, t := range release.LinuxTargets {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		img, err := image(b, t, rev)
		if err != nil {
			return nil, fmt.Errorf("the %s image: %w", t, err)
		}
		imgs = append(imgs, img)
	}
	idx, err := multiArch(imgs, labels(b, rev))
	if err != nil {
		return nil, err
	}
	tag := Tag(b.Version)
	layout := filepath.Join(b.Out, Name+"-"+b.Version+"-oci.tar")
	if err := writeLayout(layout, idx, tag, b.Epoch); err != nil {
		return nil, err
	}
	out := []string{layout}
	for i, t := range release.LinuxTargets {
		path := filepath.Join(b.Out, Name+"-"+b.Version+"-docker-"+t.Arch+".tar")
		if err := writeDockerArchive(path, imgs[i], Name+":"+tag, b.Epoch); err != nil {
			return nil, err
		}
		out = append(out, path)
	}
	return out, nil
}

// Tag returns version as an image tag, which registries limit to
// [A-Za-z0-9_.-] (at most 128, not starting with . or -): a version
// between tags, "0.4.0~dev.3.g1a2b3c4", becomes "0.4.0-dev.3.g1a2b3c4".
func Tag(version string) string {
	t := []byte(version)
	for i, c := range t {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' ||
			(c == '.' || c == '-') && i > 0
		if !ok {
			t[i] = '_'
			if i > 0 {
				t[i] = '-'
			}
		}
	}
	if len(t) > 128 {
		t = t[:128]
	}
	if len(t) == 0 {
		return "latest"
	}
	return string(t)
}

// revision returns the commit checked out in root, or "" outside a git
// checkout (a source tarball), where the image simply has no revision.
func revision(ctx context.Context, root string) string {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// labels are the image's org.opencontainers.image labels, also the multi-arch
// index's annotations.
func labels(b *release.Build, revision string) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":       Name,
		"org.opencontainers.image.description": "Sonde collector: accepts agents over QUIC, stores their snapshots, builds diagnostic bundles; API, web UI and /metrics over HTTP",
		"org.opencontainers.image.version":     b.Version,
		"org.opencontainers.image.source":      Source,
		"org.opencontainers.image.created":     b.Epoch.UTC().Format("2006-01-02T15:04:05Z"),
	}
	if revision != "" {
		l["org.opencontainers.image.revision"] = revision
	}
	return l
}
