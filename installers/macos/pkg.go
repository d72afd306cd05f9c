// Package macos builds the Sonde agent's macOS installer package,
// sonde-agent-<version>-<arch>.pkg, on any OS, with no Apple tools: a flat
// product archive, as productbuild makes, written by this package's own
// small writers. It is a xar archive (xar.go) holding a Distribution and
// one component package, sonde-agent.pkg/, with its PackageInfo, its Bom
// (bom.go), its Payload and its Scripts, both gzip-compressed odc cpio
// archives (cpio.go).
//
// Every writer has a reader that the tests and Build itself use to read
// the package back. Builds are reproducible: every time is the release's
// epoch, entries are sorted, every file is root:wheel (0:0).
//
// The package is unsigned; productsign signs it on a Mac (README,
// "Install → macOS").
package macos

import (
	"bytes"
	"context"
	"embed"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sondehq/sonde/installers/release"
)

// The package's names.
const (
	Identifier = "com.sonde.agent"
	component  = "sonde-agent.pkg"
	// minMacOS is the oldest macOS the Go release builds for.
	minMacOS = "12.0"
)

// assets are the plist and the scripts the package installs.
//
//go:embed files
var assets embed.FS

// Build writes sonde-agent-<version>-<arch>.pkg into b.Out for each macOS
// target, from the agent built for it, and reads each back to check it.
func Build(ctx context.Context, b *release.Build) ([]string, error) {
	var out []string
	for _, t := range release.AgentTargets {
		if t.OS != "darwin" {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		agent, err := os.ReadFile(b.Bin(release.Agent, t))
		if err != nil {
			return nil, fmt.Errorf("the macOS package for %s: %w", t, err)
		}
		pkg, err := productArchive(b.Version, t.Arch, b.Epoch, agent)
		if err != nil {
			return nil, fmt.Errorf("the macOS package for %s: %w", t, err)
		}
		got, err := readPackage(pkg)
		if err != nil {
			return nil, fmt.Errorf("reading back the macOS package for %s: %w", t, err)
		}
		if i := slices.IndexFunc(got.Payload, func(f file) bool { return f.Path == "./usr/local/bin/sonde-agent" }); i < 0 || !bytes.Equal(got.Payload[i].Data, agent) {
			return nil, fmt.Errorf("reading back the macOS package for %s: its payload lacks the agent", t)
		}
		name := filepath.Join(b.Out, fmt.Sprintf("sonde-agent-%s-%s.pkg", b.Version, t.Arch))
		if err := os.WriteFile(name, pkg, 0o644); err != nil {
			return nil, fmt.Errorf("the macOS package for %s: %w", t, err)
		}
		if err := os.Chtimes(name, b.Epoch, b.Epoch); err != nil {
			return nil, fmt.Errorf("the macOS package for %s: %w", t, err)
		}
		out = append(out, name)
	}
	return out, nil
}

// hostArch is Installer's name for a Go architecture.
var hostArch = map[string]string{"amd64": "x86_64", "arm64": "arm64"}

// productArchive returns the package of agent, built for arch.
func productArchive(version, arch string, epoch time.Time, agent []byte) ([]byte, error) {
	if hostArch[arch] == "" {
		return nil, fmt.Errorf("no macOS package for %q (amd64 or arm64)", arch)
	}
	payload, err := payloadFiles(agent, epoch.Unix())
	if err != nil {
		return nil, err
	}
	scripts, err := scriptFiles(epoch.Unix())
	if err != nil {
		return nil, err
	}
	pz, err := gzipCpio(payload)
	if err != nil {
		return nil, fmt.Errorf("the payload: %w", err)
	}
	sz, err := gzipCpio(scripts)
	if err != nil {
		return nil, fmt.Errorf("the scripts: %w", err)
	}
	bom, err := writeBom(payload)
	if err != nil {
		return nil, err
	}

	info := packageInfo{FormatVersion: 2, Identifier: Identifier, Version: version, InstallLocation: "/", Auth: "root",
		Relocatable: "false", PostinstallAction: "none"}
	info.Payload.NumberOfFiles = len(payload)
	for _, f := range payload {
		info.Payload.InstallKBytes += (int64(len(f.Data)) + 1023) / 1024
	}
	info.Scripts.Preinstall.File = "./preinstall"
	info.Scripts.Postinstall.File = "./postinstall"

	var d distribution
	d.MinSpecVersion = "2"
	d.Title = "Sonde agent " + version
	d.Options.Customize, d.Options.RequireScripts, d.Options.HostArchitectures = "never", "false", hostArch[arch]
	d.Domains.Anywhere, d.Domains.CurrentUserHome, d.Domains.LocalSystem = "false", "false", "true"
	d.OSVersion.Min = minMacOS
	d.Outline = []choiceLine{{Choice: Identifier}}
	d.Choices = []choice{{ID: Identifier, Visible: "false", Title: "Sonde agent", PkgRefs: []pkgRef{{ID: Identifier}}}}
	d.PkgRefs = []pkgRef{{ID: Identifier, Version: version, InstallKBytes: info.Payload.InstallKBytes, OnConclusion: "none", Path: "#" + component}}

	dx, err := marshal(d)
	if err != nil {
		return nil, fmt.Errorf("the Distribution: %w", err)
	}
	ix, err := marshal(info)
	if err != nil {
		return nil, fmt.Errorf("the PackageInfo: %w", err)
	}
	return writeXar([]xarEntry{
		{Path: "Distribution", Mode: 0o644, Data: dx, Compress: true},
		{Path: component, Dir: true, Mode: 0o755},
		{Path: component + "/Bom", Mode: 0o644, Data: bom, Compress: true},
		{Path: component + "/PackageInfo", Mode: 0o644, Data: ix, Compress: true},
		{Path: component + "/Payload", Mode: 0o644, Data: pz},
		{Path: component + "/Scripts", Mode: 0o644, Data: sz},
	}, epoch)
}

func marshal(v any) ([]byte, error) {
	x, err := xml.MarshalIndent(v, "", "    ")
	return append([]byte(xml.Header), append(x, '\n')...), err
}

// payloadFiles returns what the package installs, under "/": the agent,
// its launchd daemon and the uninstall script, with their folders, sorted
// so that a folder comes before what it holds.
func payloadFiles(agent []byte, mtime int64) ([]file, error) {
	plist, err := assets.ReadFile("files/com.sonde.agent.plist")
	if err != nil {
		return nil, fmt.Errorf("reading the embedded plist: %w", err)
	}
	uninstall, err := assets.ReadFile("files/uninstall.sh")
	if err != nil {
		return nil, fmt.Errorf("reading the embedded uninstall script: %w", err)
	}
	fs := []file{
		{Path: "./Library/LaunchDaemons/com.sonde.agent.plist", Mode: modeFile | 0o644, Data: plist},
		{Path: "./usr/local/bin/sonde-agent", Mode: modeFile | 0o755, Data: agent},
		{Path: "./usr/local/share/sonde/uninstall.sh", Mode: modeFile | 0o755, Data: uninstall},
	}
	for _, dir := range []string{".", "./Library", "./Library/LaunchDaemons", "./usr", "./usr/local", "./usr/local/bin", "./usr/local/share", "./usr/local/share/sonde"} {
		fs = append(fs, file{Path: dir, Mode: modeDir | 0o755})
	}
	return sorted(fs, mtime), nil
}

// scriptFiles returns the Scripts archive's files: preinstall and
// postinstall.
func scriptFiles(mtime int64) ([]file, error) {
	fs := []file{{Path: ".", Mode: modeDir | 0o755}}
	for _, name := range []string{"preinstall", "postinstall"} {
		b, err := assets.ReadFile("files/" + name)
		if err != nil {
			return nil, fmt.Errorf("reading an embedded package script: %w", err)
		}
		fs = append(fs, file{Path: "./" + name, Mode: modeFile | 0o755, Data: b})
	}
	return sorted(fs, mtime), nil
}

// sorted stamps fs with mtime and sorts them by path, folder by folder.
func sorted(fs []file, mtime int64) []file {
	for i := range fs {
		fs[i].MTime = mtime
	}
	slices.SortFunc(fs, func(a, b file) int {
		return slices.Compare(strings.Split(a.Path, "/"), strings.Split(b.Path, "/"))
	})
	return fs
}

// The Distribution, as productbuild --synthesize writes it, with one
// hidden choice.
type (
	distribution struct {
		XMLName        xml.Name `xml:"installer-gui-script"`
		MinSpecVersion string   `xml:"minSpecVersion,attr"`
		Title          string   `xml:"title"`
		Options        struct {
			Customize         string `xml:"customize,attr"`
			RequireScripts    string `xml:"require-scripts,attr"`
			HostArchitectures string `xml:"hostArchitectures,attr"`
		} `xml:"options"`
		Domains struct {
			Anywhere        string `xml:"enable_anywhere,attr"`
			CurrentUserHome string `xml:"enable_currentUserHome,attr"`
			LocalSystem     string `xml:"enable_localSystem,attr"`
		} `xml:"domains"`
		OSVersion struct {
			Min string `xml:"min,attr"`
		} `xml:"volume-check>allowed-os-versions>os-version"`
		Outline []choiceLine `xml:"choices-outline>line"`
		Choices []choice     `xml:"choice"`
		PkgRefs []pkgRef     `xml:"pkg-ref"`
	}
	choiceLine struct {
		Choice string `xml:"choice,attr"`
	}
	choice struct {
		ID      string   `xml:"id,attr"`
		Visible string   `xml:"visible,attr,omitempty"`
		Title   string   `xml:"title,attr,omitempty"`
		PkgRefs []pkgRef `xml:"pkg-ref"`
	}
	pkgRef struct {
		ID            string `xml:"id,attr"`
		Version       string `xml:"version,attr,omitempty"`
		InstallKBytes int64  `xml:"installKBytes,attr,omitempty"`
		OnConclusion  string `xml:"onConclusion,attr,omitempty"`
		Path          string `xml:",chardata"`
	}
)

// packageInfo is a component package's PackageInfo, as pkgbuild writes it.
type packageInfo struct {
	XMLName           xml.Name `xml:"pkg-info"`
	FormatVersion     int      `xml:"format-version,attr"`
	Identifier        string   `xml:"identifier,attr"`
	Version           string   `xml:"version,attr"`
	InstallLocation   string   `xml:"install-location,attr"`
	Auth              string   `xml:"auth,attr"`
	Relocatable       string   `xml:"relocatable,attr,omitempty"`
	PostinstallAction string   `xml:"postinstall-action,attr,omitempty"`
	Payload           struct {
		NumberOfFiles int   `xml:"numberOfFiles,attr"`
		InstallKBytes int64 `xml:"installKBytes,attr"`
	} `xml:"payload"`
	Scripts struct {
		Preinstall  scriptRef `xml:"preinstall"`
		Postinstall scriptRef `xml:"postinstall"`
	} `xml:"scripts"`
}

type scriptRef struct {
	File string `xml:"file,attr"`
}

// errPackage is wrapped by every error about a malformed package.
var errPackage = errors.New("malformed macOS package")

// pkgContents is a product archive read back.
type pkgContents struct {
	Distribution distribution
	Info         packageInfo
	Bom          []bomEntry
	Payload      []file
	Scripts      []file
}

// readPackage reads a product archive back as installer would and checks
// that its parts agree: the Distribution names the component, whose
// PackageInfo has the same identifier and version and counts the
// payload's entries; the BOM lists exactly the payload's paths with their
// modes, owners, sizes and checksums; the scripts PackageInfo names are
// in Scripts, executable.
func readPackage(b []byte) (*pkgContents, error) {
	entries, err := readXar(b)
	if err != nil {
		return nil, err
	}
	byPath := map[string][]byte{}
	for _, e := range entries {
		if !e.Dir {
			byPath[e.Path] = e.Data
		}
	}
	var c pkgContents
	if err := xml.Unmarshal(byPath["Distribution"], &c.Distribution); err != nil {
		return nil, fmt.Errorf("%w: Distribution: %w", errPackage, err)
	}
	var ref pkgRef
	for _, r := range c.Distribution.PkgRefs {
		if strings.HasPrefix(r.Path, "#") {
			ref = r
		}
	}
	dir := strings.TrimPrefix(ref.Path, "#")
	if !validName(dir) {
		return nil, fmt.Errorf("%w: the Distribution names no component package in the archive", errPackage)
	}
	if err := xml.Unmarshal(byPath[dir+"/PackageInfo"], &c.Info); err != nil {
		return nil, fmt.Errorf("%w: %s/PackageInfo: %w", errPackage, dir, err)
	}
	if c.Info.Identifier != ref.ID || c.Info.Version != ref.Version {
		return nil, fmt.Errorf("%w: PackageInfo says %s %s, the Distribution %s %s", errPackage, c.Info.Identifier, c.Info.Version, ref.ID, ref.Version)
	}
	if c.Bom, err = readBom(byPath[dir+"/Bom"]); err != nil {
		return nil, fmt.Errorf("%s/Bom: %w", dir, err)
	}
	if c.Payload, err = readGzipCpio(byPath[dir+"/Payload"]); err != nil {
		return nil, fmt.Errorf("%s/Payload: %w", dir, err)
	}
	if c.Info.Payload.NumberOfFiles != len(c.Payload) {
		return nil, fmt.Errorf("%w: PackageInfo counts %d files, the payload holds %d", errPackage, c.Info.Payload.NumberOfFiles, len(c.Payload))
	}
	if err := bomMatches(c.Bom, c.Payload); err != nil {
		return nil, err
	}
	for _, s := range []string{c.Info.Scripts.Preinstall.File, c.Info.Scripts.Postinstall.File} {
		if s == "" {
			continue
		}
		if c.Scripts == nil {
			if c.Scripts, err = readGzipCpio(byPath[dir+"/Scripts"]); err != nil {
				return nil, fmt.Errorf("%s/Scripts: %w", dir, err)
			}
		}
		want := "./" + path.Clean(s)
		if i := slices.IndexFunc(c.Scripts, func(f file) bool { return f.Path == want }); i < 0 || c.Scripts[i].isDir() || c.Scripts[i].Mode&0o111 == 0 {
			return nil, fmt.Errorf("%w: PackageInfo names the script %s; Scripts has no executable file %s", errPackage, s, want)
		}
	}
	return &c, nil
}

// bomMatches checks that bom lists exactly the paths of payload, with the
// same attributes.
func bomMatches(bom []bomEntry, payload []file) error {
	if len(bom) != len(payload) {
		return fmt.Errorf("%w: the BOM lists %d paths, the payload holds %d", errPackage, len(bom), len(payload))
	}
	byPath := map[string]bomEntry{}
	for _, e := range bom {
		byPath[e.Path] = e
	}
	for _, f := range payload {
		e, ok := byPath[f.Path]
		want := bomEntry{Path: f.Path, Type: bomFile, Mode: uint16(f.Mode), UID: f.UID, GID: f.GID, MTime: uint32(f.MTime),
			Size: uint32(len(f.Data)), Checksum: cksum(f.Data)}
		if f.isDir() {
			want.Type, want.Size, want.Checksum = bomDir, 0, 0
		}
		if !ok || e != want || f.Mode > 0xffff {
			return fmt.Errorf("%w: the BOM has %+v for %s, the payload %+v", errPackage, e, f.Path, want)
		}
	}
	return nil
}
