package linux

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/installers/release"
)

var epoch = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// fakeBuild returns a release into a temporary Out that holds tiny
// stand-ins for the binaries of every Linux target.
func fakeBuild(t *testing.T, version string) *release.Build {
	t.Helper()
	b := &release.Build{Root: "../..", Version: version, Epoch: epoch, Out: t.TempDir()}
	for _, tg := range release.LinuxTargets {
		for _, p := range []string{release.Agent, release.Collector, release.CLI} {
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
	return []byte("#!/bin/sh\necho fake " + program + " for " + t.String() + "\n")
}

// wantFile is a file or folder a package must hold, with what must be in
// it: a binary (program) or one of files/ (asset).
type wantFile struct {
	path           string
	mode           fs.FileMode // fs.ModeDir for a folder
	conf           bool
	program, asset string
}

var wantFiles = map[string][]wantFile{
	"sonde-agent": {
		{path: "/usr/bin/sonde-agent", mode: 0o755, program: "sonde-agent"},
		{path: "/usr/lib/systemd/system/sonde-agent.service", mode: 0o644, asset: "sonde-agent.service"},
		{path: "/etc/sonde-agent", mode: fs.ModeDir | 0o755},
		{path: "/etc/sonde-agent/agent.yaml", mode: 0o644, conf: true, asset: "agent.yaml"},
	},
	"sonde-collector": {
		{path: "/usr/bin/sonde-collector", mode: 0o755, program: "sonde-collector"},
		{path: "/usr/bin/sonde", mode: 0o755, program: "sonde"},
		{path: "/usr/lib/systemd/system/sonde-collector.service", mode: 0o644, asset: "sonde-collector.service"},
		{path: "/usr/lib/sysctl.d/60-sonde-collector.conf", mode: 0o644, asset: "60-sonde-collector.conf"},
		{path: "/etc/sonde-collector", mode: fs.ModeDir | 0o755},
		{path: "/etc/sonde-collector/collector.env", mode: 0o600, conf: true, asset: "collector.env"},
	},
}

// content returns what w must hold in the package for target tg.
func (w wantFile) content(t *testing.T, tg release.Target) []byte {
	t.Helper()
	if w.program != "" {
		return fakeBinary(w.program, tg)
	}
	b, err := assets.ReadFile("files/" + w.asset)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// artifact is one package the build must write.
type artifact struct {
	pkg    pkg
	target release.Target
	format format
	path   string
}

// wantArtifacts lists the artifacts of b, in the order Build returns them.
func wantArtifacts(b *release.Build) []artifact {
	var as []artifact
	for _, p := range packages {
		for _, tg := range release.LinuxTargets {
			for _, f := range formats {
				as = append(as, artifact{p, tg, f, filepath.Join(b.Out, f.artifact(p.name, b.Version, f.arch[tg.Arch]))})
			}
		}
	}
	return as
}

func TestPackagesHoldWhatTheyShould(t *testing.T) {
	b := fakeBuild(t, "1.2.3~dev.4.gabc1234")
	got, err := Build(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	want := wantArtifacts(b)
	var names []string
	for _, a := range want {
		names = append(names, a.path)
	}
	if !slices.Equal(got, names) {
		t.Fatalf("artifacts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(names, "\n"))
	}
	for _, base := range []string{"sonde-agent_1.2.3~dev.4.gabc1234_amd64.deb", "sonde-collector-1.2.3~dev.4.gabc1234-1.aarch64.rpm"} {
		if !slices.Contains(got, filepath.Join(b.Out, base)) {
			t.Errorf("no artifact named %s", base)
		}
	}
	for _, a := range want {
		t.Run(filepath.Base(a.path), func(t *testing.T) {
			raw, err := os.ReadFile(a.path)
			if err != nil {
				t.Fatal(err)
			}
			if a.format.name == "deb" {
				checkDeb(t, b, a, raw)
			} else {
				checkRPM(t, b, a, raw)
			}
		})
	}
}

func checkDeb(t *testing.T, b *release.Build, a artifact, raw []byte) {
	d, err := readDeb(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range d.members {
		if m.mtime != b.Epoch.Unix() || m.uid != 0 || m.gid != 0 || m.mode != 0o100644 && m.mode != 0o644 {
			t.Errorf("ar member %s: mtime %d uid %d gid %d mode %o", m.name, m.mtime, m.uid, m.gid, m.mode)
		}
	}
	if string(d.members[0].data) != "2.0\n" {
		t.Errorf("debian-binary %q", d.members[0].data)
	}
	for field, want := range map[string]string{
		"Package": a.pkg.name, "Version": b.Version, "Architecture": a.format.arch[a.target.Arch],
		"Maintainer": maintainer, "Depends": strings.Join(a.pkg.depends["deb"], ", "),
		"Suggests": strings.Join(a.pkg.suggests, ", "), "Description": a.pkg.summary,
	} {
		if got := d.field(field); got != want {
			t.Errorf("control %s: %q, want %q", field, got, want)
		}
	}
	var conffiles string
	for _, w := range wantFiles[a.pkg.name] {
		if w.conf {
			conffiles += w.path + "\n"
		}
	}
	if got := string(d.control["conffiles"].data); got != conffiles {
		t.Errorf("conffiles %q, want %q", got, conffiles)
	}
	for name, e := range d.control {
		if !e.hdr.ModTime.Equal(b.Epoch) {
			t.Errorf("control.tar.gz %s: mtime %s", name, e.hdr.ModTime)
		}
	}
	if _, ok := d.control["preinst"]; ok {
		t.Error("a preinst: none is needed")
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		checkScript(t, s, d.control[s].data)
		if e := d.control[s]; e.hdr == nil || e.hdr.Mode != 0o755 {
			t.Errorf("%s: not there with mode 0755", s)
		}
	}

	files := map[string]tarEntry{}
	for _, e := range d.data {
		path := strings.TrimSuffix(strings.TrimPrefix(e.hdr.Name, "."), "/")
		files[path] = e
		if e.hdr.Uname != "root" || e.hdr.Gname != "root" || e.hdr.Uid != 0 || e.hdr.Gid != 0 || !e.hdr.ModTime.Equal(b.Epoch) {
			t.Errorf("%s: owner %s:%s (%d:%d), mtime %s", path, e.hdr.Uname, e.hdr.Gname, e.hdr.Uid, e.hdr.Gid, e.hdr.ModTime)
		}
		if e.hdr.Typeflag == '5' && e.hdr.Mode != 0o755 {
			t.Errorf("folder %s: mode %o", path, e.hdr.Mode)
		}
	}
	var regular []string
	for path, e := range files {
		if e.hdr.Typeflag == '0' {
			regular = append(regular, path)
		}
	}
	var wantRegular []string
	for _, w := range wantFiles[a.pkg.name] {
		if !w.mode.IsDir() {
			wantRegular = append(wantRegular, w.path)
		}
		e, ok := files[w.path]
		switch {
		case !ok:
			t.Errorf("no %s", w.path)
		case w.mode.IsDir() != (e.hdr.Typeflag == '5') || fs.FileMode(e.hdr.Mode) != w.mode.Perm():
			t.Errorf("%s: type %c mode %o, want %s", w.path, e.hdr.Typeflag, e.hdr.Mode, w.mode)
		case !w.mode.IsDir() && !bytes.Equal(e.data, w.content(t, a.target)):
			t.Errorf("%s holds %q", w.path, e.data)
		}
	}
	slices.Sort(regular)
	slices.Sort(wantRegular)
	if !slices.Equal(regular, wantRegular) {
		t.Errorf("files %v, want %v", regular, wantRegular)
	}
	var sums []string
	for _, path := range regular {
		sums = append(sums, fmt.Sprintf("%x  %s", md5.Sum(files[path].data), path[1:]))
	}
	gotSums := strings.Split(strings.TrimSpace(string(d.control["md5sums"].data)), "\n")
	slices.Sort(gotSums)
	slices.Sort(sums)
	if !slices.Equal(gotSums, sums) {
		t.Errorf("md5sums %q, want %q", gotSums, sums)
	}
}

func checkRPM(t *testing.T, b *release.Build, a artifact, raw []byte) {
	r, err := readRPM(raw)
	if err != nil {
		t.Fatal(err)
	}
	for tag, want := range map[int]string{
		tagName: a.pkg.name, tagVersion: b.Version, tagRelease: "1", tagArch: a.format.arch[a.target.Arch], tagBuildHost: buildHost,
	} {
		if got := r.str(tag); got != want {
			t.Errorf("tag %d: %q, want %q", tag, got, want)
		}
	}
	if got := r.ints(tagBuildTime); len(got) != 1 || got[0] != b.Epoch.Unix() {
		t.Errorf("build time %v, want %d", got, b.Epoch.Unix())
	}
	for _, dep := range a.pkg.depends["rpm"] {
		if !slices.Contains(r.strs(tagRequireName), dep) {
			t.Errorf("requires %v, not %s", r.strs(tagRequireName), dep)
		}
	}
	if got := r.strs(tagSuggestName); !slices.Equal(got, a.pkg.suggests) {
		t.Errorf("suggests %v, want %v", got, a.pkg.suggests)
	}
	if _, ok := r.tags[tagPreIn]; ok {
		t.Errorf("a %%pre: none is needed")
	}
	for name, tag := range map[string]int{"%post": tagPostIn, "%preun": tagPreUn, "%postun": tagPostUn} {
		checkScript(t, name, []byte(r.str(tag)))
	}

	infos := r.fileInfos()
	var paths, wantPaths []string
	for p := range infos {
		paths = append(paths, p)
	}
	for _, w := range wantFiles[a.pkg.name] {
		wantPaths = append(wantPaths, w.path)
		info, ok := infos[w.path]
		if !ok {
			t.Errorf("no %s", w.path)
			continue
		}
		mode := int64(0o100000) | int64(w.mode.Perm())
		if w.mode.IsDir() {
			mode = 0o40000 | int64(w.mode.Perm())
		}
		var flags int64
		if w.conf {
			flags = rpmFileConfig | rpmFileNoReplace
		}
		if info.mode != mode || info.flags != flags || info.user != "root" || info.group != "root" || info.mtime != b.Epoch.Unix() {
			t.Errorf("%s: %+v, want mode %o flags %d root:root mtime %d", w.path, info, mode, flags, b.Epoch.Unix())
		}
		if w.mode.IsDir() {
			continue
		}
		f, ok := r.files[w.path]
		if !ok {
			t.Errorf("%s not in the payload %v", w.path, slices.Collect(maps.Keys(r.files)))
		} else if !bytes.Equal(f.data, w.content(t, a.target)) || f.hdr.ModTime.Unix() != 0 {
			// rpm takes a file's time from the header (checked above);
			// rpmpack leaves the payload's at 0.
			t.Errorf("payload %s: %q, mtime %s", w.path, f.data, f.hdr.ModTime)
		}
	}
	slices.Sort(paths)
	slices.Sort(wantPaths)
	if !slices.Equal(paths, wantPaths) {
		t.Errorf("files %v, want %v", paths, wantPaths)
	}
}

// checkScript checks that a maintainer script is there and stops at the
// first failing command.
func checkScript(t *testing.T, name string, text []byte) {
	t.Helper()
	if !bytes.HasPrefix(text, []byte("#!/bin/sh\n")) || !bytes.Contains(text, []byte("\nset -e\n")) {
		t.Errorf("%s: not a /bin/sh script with set -e: %.80q", name, text)
	}
}

func TestBuildsAreByteIdentical(t *testing.T) {
	sums := func(b *release.Build) map[string][32]byte {
		got, err := Build(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string][32]byte{}
		for _, path := range got {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			m[filepath.Base(path)] = sha256.Sum256(raw)
		}
		return m
	}
	b1, b2 := fakeBuild(t, "2.0.0"), fakeBuild(t, "2.0.0")
	// Neither the binaries' own times nor the time of day may show.
	for _, tg := range release.LinuxTargets {
		for _, p := range []string{release.Agent, release.Collector, release.CLI} {
			if err := os.Chtimes(b2.Bin(p, tg), time.Unix(1, 0), time.Unix(1, 0)); err != nil {
				t.Fatal(err)
			}
		}
	}
	first := sums(b1)
	time.Sleep(1100 * time.Millisecond)
	second := sums(b2)
	if len(first) != 8 {
		t.Fatalf("%d artifacts, want 8", len(first))
	}
	for name, sum := range first {
		if second[name] != sum {
			t.Errorf("%s differs between two builds", name)
		}
	}
	b3 := fakeBuild(t, "2.0.0")
	b3.Epoch = epoch.Add(time.Hour)
	for name, sum := range sums(b3) {
		if first[name] == sum {
			t.Errorf("%s is the same with another Epoch: the timestamps are not the Epoch", name)
		}
	}
}

func TestBuildRefuses(t *testing.T) {
	for _, v := range []string{"", "1.0-1", "2:1.0", "v1.0", "1.0 beta"} {
		b := fakeBuild(t, v)
		if _, err := Build(context.Background(), b); err == nil || !strings.Contains(err.Error(), "version") {
			t.Errorf("version %q: %v, want an error about the version", v, err)
		}
	}
	b := fakeBuild(t, "1.0.0")
	if err := os.Remove(b.Bin(release.CLI, release.Target{OS: "linux", Arch: "arm64"})); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(context.Background(), b); err == nil || !strings.Contains(err.Error(), "the sonde binary") {
		t.Errorf("without the arm64 CLI: %v, want an error naming the sonde binary", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Build(ctx, fakeBuild(t, "1.0.0")); err == nil {
		t.Error("a cancelled build succeeded")
	}
}
