package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/shirou/gopsutil/v3/common"
)

// This file reads the application stores that install beside the
// distribution's packages: snap and flatpak (system-wide installations;
// per-user flatpaks under ~/.local/share/flatpak are not read).

// maxAppMeta bounds the bytes read of a snap.yaml or a flatpak's
// metainfo, from the start: the fields read come first.
const maxAppMeta = 64 << 10

// listApps lists the folder where an application store keeps what it
// installed; a machine without the folder has no such store here.
func listApps(dir, what string) ([]os.DirEntry, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notAvailable("no %s (%s)", what, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", what, err)
	}
	return entries, nil
}

// readSnaps lists the snaps mounted under /snap: each /snap/<name>/current
// links to the revision in use, whose meta/snap.yaml has the version; the
// revision's .snap file in /var/lib/snapd/snaps was written when it was
// installed.
func readSnaps(ctx context.Context, p *softwareProbe) ([]SoftwarePackage, int, bool, error) {
	dir := Path(ctx, common.HostRootEnvKey, "snap")
	entries, err := listApps(dir, "snaps")
	if err != nil {
		return nil, 0, false, err
	}
	var pkgs []SoftwarePackage
	more := 0
	for _, e := range entries {
		rev, err := os.Readlink(filepath.Join(dir, e.Name(), "current"))
		if err != nil {
			continue // /snap/bin, /snap/README
		}
		rev = filepath.Base(rev)
		if len(pkgs) == maxSoftwareFound {
			more++
			continue
		}
		pk := SoftwarePackage{Name: e.Name(), Revision: rev}
		if b, _, err := readBounded(filepath.Join(dir, e.Name(), rev, "meta", "snap.yaml"), maxAppMeta, false); err == nil {
			pk.Version = snapVersion(b)
		}
		pk.InstalledAt = mtimeOf(Path(ctx, common.HostVarEnvKey, "lib/snapd/snaps", e.Name()+"_"+rev+".snap"))
		pkgs = append(pkgs, pk)
	}
	return pkgs, more, more > 0, nil
}

// snapVersion returns the top-level version of a snap.yaml, unquoted: the
// one line "version: ..." is read, not the YAML.
func snapVersion(b []byte) string {
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		if v, ok := bytes.CutPrefix(line, []byte("version:")); ok {
			v = bytes.TrimSpace(v)
			if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
				v = v[1 : len(v)-1]
			}
			return string(v)
		}
	}
	return ""
}

// readFlatpak lists the system-wide flatpak applications. Each
// /var/lib/flatpak/app/<id>/current links to <arch>/<branch>, whose
// active link names the deployed commit's folder; the version is the
// newest release in the application's metainfo, the install time that
// folder's.
func readFlatpak(ctx context.Context, p *softwareProbe) ([]SoftwarePackage, int, bool, error) {
	dir := Path(ctx, common.HostVarEnvKey, "lib/flatpak/app")
	entries, err := listApps(dir, "system-wide flatpaks")
	if err != nil {
		return nil, 0, false, err
	}
	var pkgs []SoftwarePackage
	more := 0
	for _, e := range entries {
		id := e.Name()
		current, err := os.Readlink(filepath.Join(dir, id, "current"))
		if err != nil {
			continue
		}
		arch, branch, ok := strings.Cut(current, "/")
		if !ok || !flatpakPart(arch) || !flatpakPart(branch) {
			continue
		}
		commit, err := os.Readlink(filepath.Join(dir, id, arch, branch, "active"))
		if err != nil || !flatpakPart(commit) {
			continue
		}
		if len(pkgs) == maxSoftwareFound {
			more++
			continue
		}
		deploy := filepath.Join(dir, id, arch, branch, commit)
		pkgs = append(pkgs, SoftwarePackage{
			Name: id, Arch: arch, ID: "app/" + id + "/" + arch + "/" + branch,
			Revision: commit[:min(len(commit), 12)], Version: flatpakVersion(deploy, id),
			InstalledAt: mtimeOf(deploy),
		})
	}
	return pkgs, more, more > 0, nil
}

// flatpakPart says whether one part of a flatpak path is a plain name.
func flatpakPart(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\x00")
}

// flatpakVersion returns the version of the first <release> in the
// deployed application's metainfo (AppStream lists the newest first).
func flatpakVersion(deploy, id string) string {
	for _, name := range []string{"metainfo/" + id + ".metainfo.xml", "metainfo/" + id + ".appdata.xml", "appdata/" + id + ".appdata.xml"} {
		b, _, err := readBounded(filepath.Join(deploy, "files/share", name), maxAppMeta, false)
		if err == nil {
			return releaseVersion(b)
		}
	}
	return ""
}

// releaseVersion returns the version attribute of the first <release>
// element of an AppStream file, read as text rather than parsed.
func releaseVersion(b []byte) string {
	for {
		i := bytes.Index(b, []byte("<release"))
		if i < 0 {
			return ""
		}
		b = b[i+len("<release"):]
		if len(b) == 0 || (b[0] != ' ' && b[0] != '\t' && b[0] != '\n' && b[0] != '\r') {
			continue // <releases>
		}
		tag, _, _ := bytes.Cut(b, []byte{'>'})
		return xmlAttribute(tag, "version")
	}
}

// attribute returns the value of the named attribute in the text of an
// XML start tag, "" when it has none.
func xmlAttribute(tag []byte, name string) string {
	for {
		i := bytes.Index(tag, []byte(name+"="))
		if i < 0 {
			return ""
		}
		before, rest := tag[:i], tag[i+len(name)+1:]
		tag = rest
		if len(before) == 0 || !strings.ContainsRune(" \t\r\n", rune(before[len(before)-1])) || len(rest) == 0 {
			continue // part of another attribute's name or value
		}
		q := rest[0]
		if q != '"' && q != '\'' {
			continue
		}
		v, _, ok := bytes.Cut(rest[1:], []byte{q})
		if !ok {
			return ""
		}
		return string(v)
	}
}
