package linux

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
	"github.com/goreleaser/nfpm/v2/rpm"

	"github.com/sondehq/sonde/installers/release"
)

// format is a package format: how it names architectures and artifacts,
// and which pieces make its maintainer scripts.
type format struct {
	name     string // nfpm's packager name
	packager nfpm.Packager
	arch     map[string]string // by GOARCH
	release  string            // the package's release, after its version
	artifact func(name, version, arch string) string
	// phases name scripts/<phase>.sh for each script slot.
	phases nfpm.Scripts
}

var formats = []format{
	{
		name:     "deb",
		packager: deb.Default,
		arch:     map[string]string{"amd64": "amd64", "arm64": "arm64"},
		artifact: func(name, version, arch string) string { return name + "_" + version + "_" + arch + ".deb" },
		phases:   nfpm.Scripts{PostInstall: "deb-postinst", PreRemove: "deb-prerm", PostRemove: "deb-postrm"},
	},
	{
		name:     "rpm",
		packager: rpm.DefaultRPM,
		arch:     map[string]string{"amd64": "x86_64", "arm64": "aarch64"},
		release:  "1",
		artifact: func(name, version, arch string) string { return name + "-" + version + "-1." + arch + ".rpm" },
		phases:   nfpm.Scripts{PostInstall: "rpm-post", PreRemove: "rpm-preun", PostRemove: "rpm-postun"},
	},
}

// Fixed fields of every package. The build host is fixed so that the
// rpm does not record the machine it was built on.
const (
	maintainer = "Sonde developers <sonde@localhost>"
	buildHost  = "localhost"
)

// write makes package p for target t in format f from the assets staged
// in stage, and returns the artifact's path.
func write(b *release.Build, stage string, p pkg, t release.Target, f format) (string, error) {
	arch, ok := f.arch[t.Arch]
	if !ok || t.OS != "linux" {
		return "", fmt.Errorf("no %s architecture for %s", f.name, t)
	}
	contents, err := p.contents(b, stage, t)
	if err != nil {
		return "", err
	}
	scripts, err := p.stageScripts(stage, f)
	if err != nil {
		return "", err
	}
	info := &nfpm.Info{
		Name:          p.name,
		Arch:          arch,
		Platform:      "linux",
		Version:       b.Version,
		VersionSchema: "none", // "0.4.0~dev.12.g1a2b3c4" as it is
		Release:       f.release,
		Section:       "admin",
		Priority:      "optional",
		Maintainer:    maintainer,
		Vendor:        "Sonde",
		Description:   p.description,
		MTime:         b.Epoch,
		// Every path is named in full: a glob character must not expand.
		DisableGlobbing: true,
		Overridables: nfpm.Overridables{
			Depends:  p.depends[f.name],
			Suggests: p.suggests,
			Contents: contents,
			Scripts:  scripts,
			RPM:      nfpm.RPM{Summary: p.summary, BuildHost: buildHost, Group: "System Environment/Daemons"},
		},
	}
	out := filepath.Join(b.Out, f.artifact(p.name, b.Version, arch))
	if err := os.MkdirAll(b.Out, 0o755); err != nil {
		return "", fmt.Errorf("making the output folder: %w", err)
	}
	w, err := os.Create(out)
	if err != nil {
		return "", fmt.Errorf("writing the package: %w", err)
	}
	err = f.packager.Package(info, w)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out)
		return "", fmt.Errorf("writing %s: %w", filepath.Base(out), err)
	}
	return out, nil
}

// contents lists what p installs: the binaries for t, its files and
// folders, every one root's, with its mode and the release's timestamp.
func (p pkg) contents(b *release.Build, stage string, t release.Target) (files.Contents, error) {
	var c files.Contents
	add := func(src, dst, typ string, mode fs.FileMode) {
		c = append(c, &files.Content{Source: src, Destination: dst, Type: typ,
			FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode, MTime: b.Epoch}})
	}
	for _, prog := range p.programs {
		bin := b.Bin(prog, t)
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("the %s binary (build it first): %w", prog, err)
		}
		add(bin, "/usr/bin/"+prog, files.TypeFile, 0o755)
	}
	for _, f := range p.files {
		typ := files.TypeFile
		if f.conf {
			typ = files.TypeConfigNoReplace // a conffile for dpkg too
		}
		add(filepath.Join(stage, "files", f.src), f.dst, typ, f.mode)
	}
	for _, d := range p.dirs {
		add("", d, files.TypeDir, 0o755)
	}
	return c, nil
}

// stageScripts writes p's maintainer scripts for format f into stage and
// returns them as nfpm takes them, by path.
func (p pkg) stageScripts(stage string, f format) (nfpm.Scripts, error) {
	var s nfpm.Scripts
	for _, slot := range []struct {
		phase string
		path  *string
	}{
		{f.phases.PreInstall, &s.PreInstall},
		{f.phases.PostInstall, &s.PostInstall},
		{f.phases.PreRemove, &s.PreRemove},
		{f.phases.PostRemove, &s.PostRemove},
	} {
		if slot.phase == "" {
			continue
		}
		text, err := p.maintainerScript(slot.phase)
		if err != nil {
			return s, err
		}
		*slot.path = filepath.Join(stage, p.name+"-"+slot.phase)
		if err := os.WriteFile(*slot.path, text, 0o755); err != nil {
			return s, fmt.Errorf("staging maintainer script %s: %w", slot.phase, err)
		}
	}
	return s, nil
}

// maintainerScript makes p's script for phase: scripts/common.sh, then
// the package's part, then the phase's own, after set -e.
func (p pkg) maintainerScript(phase string) ([]byte, error) {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "#!/bin/sh\n# %s %s, made of installers/linux/scripts/common.sh, %s.sh and %s.sh.\nset -e\n",
		p.name, phase, p.script, phase)
	for _, part := range []string{"common", p.script, phase} {
		text, err := assets.ReadFile(path.Join("scripts", part+".sh"))
		if err != nil {
			return nil, fmt.Errorf("maintainer script %s: %w", phase, err)
		}
		buf.WriteString("\n")
		buf.Write(text)
	}
	return buf.Bytes(), nil
}
