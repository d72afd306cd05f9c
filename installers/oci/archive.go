package oci

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// The annotations of index.json's entry that name it: the OCI one holds
// the tag (skopeo's oci-archive:FILE:TAG); containerd's, which podman and
// Docker's containerd store prefer on load, holds a whole reference, local
// like the images podman builds.
const (
	RefName   = "org.opencontainers.image.ref.name"
	ImageName = "io.containerd.image.name"
)

// entry is one member of a tar file: a directory when name ends in "/".
type entry struct {
	name  string
	mode  int64
	owner int // uid and gid
	data  []byte
}

// writeTar writes entries sorted by name, all with mtime, as ustar (which
// every reader takes).
func writeTar(w io.Writer, entries []entry, mtime time.Time) error {
	entries = slices.Clone(entries)
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	tw := tar.NewWriter(w)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.owner, Gid: e.owner,
			ModTime: mtime.UTC().Truncate(time.Second), Format: tar.FormatUSTAR, Typeflag: tar.TypeReg, Size: int64(len(e.data))}
		if strings.HasSuffix(e.name, "/") {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("closing the tar stream: %w", err)
	}
	return nil
}

// writeTarFile writes entries to a new file at path.
func writeTarFile(path string, entries []entry, mtime time.Time) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing the archive: %w", err)
	}
	err = writeTar(f, entries, mtime)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// blobs collects content-addressed blobs under blobs/ALG/HEX, each once.
type blobs struct {
	entries []entry
	seen    map[string]bool
}

func (bs *blobs) add(d v1.Hash, data []byte) string {
	name := "blobs/" + d.Algorithm + "/" + d.Hex
	if bs.seen == nil {
		bs.seen = map[string]bool{}
	}
	for _, n := range []string{"blobs/", "blobs/" + d.Algorithm + "/", name} {
		if !bs.seen[n] {
			bs.seen[n] = true
			e := entry{name: n, mode: 0o755}
			if n == name {
				e = entry{name: n, mode: 0o644, data: data}
			}
			bs.entries = append(bs.entries, e)
		}
	}
	return name
}

// addImage adds img's manifest (when withManifest), config and layers and
// returns the config's and the layers' names.
func (bs *blobs) addImage(img v1.Image, withManifest bool) (config string, layers []string, err error) {
	if withManifest {
		raw, err := img.RawManifest()
		if err != nil {
			return "", nil, fmt.Errorf("adding an image to the archive: %w", err)
		}
		d, err := img.Digest()
		if err != nil {
			return "", nil, fmt.Errorf("adding an image to the archive: %w", err)
		}
		bs.add(d, raw)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return "", nil, fmt.Errorf("adding an image to the archive: %w", err)
	}
	d, err := img.ConfigName()
	if err != nil {
		return "", nil, fmt.Errorf("adding an image to the archive: %w", err)
	}
	config = bs.add(d, raw)
	ls, err := img.Layers()
	if err != nil {
		return "", nil, fmt.Errorf("adding an image to the archive: %w", err)
	}
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			return "", nil, fmt.Errorf("adding an image to the archive: %w", err)
		}
		rc, err := l.Compressed()
		if err != nil {
			return "", nil, fmt.Errorf("adding an image to the archive: %w", err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return "", nil, fmt.Errorf("adding an image to the archive: %w", err)
		}
		layers = append(layers, bs.add(d, data))
	}
	return config, layers, nil
}

// writeLayout writes idx as an OCI image layout in a tarball at path: its
// index.json names idx alone, tagged tag.
func writeLayout(path string, idx v1.ImageIndex, tag string, mtime time.Time) error {
	top := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: idx,
		Descriptor: v1.Descriptor{Annotations: map[string]string{RefName: tag, ImageName: "localhost/" + Name + ":" + tag}}})
	index, err := top.RawManifest()
	if err != nil {
		return fmt.Errorf("the OCI layout: %w", err)
	}
	var bs blobs
	raw, err := idx.RawManifest()
	if err != nil {
		return fmt.Errorf("the OCI layout: %w", err)
	}
	d, err := idx.Digest()
	if err != nil {
		return fmt.Errorf("the OCI layout: %w", err)
	}
	bs.add(d, raw)
	im, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("the OCI layout: %w", err)
	}
	for _, desc := range im.Manifests {
		img, err := idx.Image(desc.Digest)
		if err != nil {
			return fmt.Errorf("the OCI layout: %w", err)
		}
		if _, _, err := bs.addImage(img, true); err != nil {
			return fmt.Errorf("the OCI layout: %w", err)
		}
	}
	entries := append(bs.entries,
		entry{name: "oci-layout", mode: 0o644, data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		entry{name: "index.json", mode: 0o644, data: index})
	return writeTarFile(path, entries, mtime)
}

// dockerManifest is one image of a docker-archive's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// writeDockerArchive writes img as a docker-archive (what `docker save`
// writes and `docker load` reads) at path, named repoTag. Its blobs sit
// where newer Docker puts them, blobs/sha256/HEX; layers stay compressed,
// which docker load takes.
func writeDockerArchive(path string, img v1.Image, repoTag string, mtime time.Time) error {
	var bs blobs
	config, layers, err := bs.addImage(img, false)
	if err != nil {
		return fmt.Errorf("the docker-archive: %w", err)
	}
	manifest, err := json.Marshal([]dockerManifest{{Config: config, RepoTags: []string{repoTag}, Layers: layers}})
	if err != nil {
		return fmt.Errorf("the docker-archive: %w", err)
	}
	return writeTarFile(path, append(bs.entries, entry{name: "manifest.json", mode: 0o644, data: manifest}), mtime)
}
