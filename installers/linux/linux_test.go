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
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/config"
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

// unitFile returns one of the embedded unit files.
func unitFile(t *testing.T, name string) string {
	t.Helper()
	b, err := assets.ReadFile("files/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// unitSettings returns a unit file's settings: each key's values in order.
func unitSettings(unit string) map[string][]string {
	m := map[string][]string{}
	for line := range strings.Lines(unit) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		m[k] = append(m[k], v)
	}
	return m
}

// execStart returns the words of a unit's only ExecStart line.
func execStart(unit string) ([]string, error) {
	lines := unitSettings(unit)["ExecStart"]
	if len(lines) != 1 {
		return nil, fmt.Errorf("%d ExecStart lines, want one", len(lines))
	}
	return strings.Fields(lines[0]), nil
}

func TestUnits(t *testing.T) {
	hardening := map[string]string{
		"ProtectSystem": "strict", "PrivateTmp": "yes", "NoNewPrivileges": "yes",
		"Restart": "on-failure", "Type": "simple",
	}
	for _, c := range []struct {
		unit  string
		exec  string
		state string
		want  map[string]string
	}{
		{"sonde-agent.service", "/usr/bin/sonde-agent run --state /var/lib/sonde-agent --log-format json", "sonde-agent", map[string]string{
			"ProtectHome": "read-only", "StateDirectoryMode": "0700",
			"ReadWritePaths":        "-/var/lib/sonde-agent-public -/etc/sonde-agent",
			"CapabilityBoundingSet": "CAP_DAC_READ_SEARCH CAP_SYS_PTRACE CAP_SYS_ADMIN CAP_SYS_RAWIO CAP_NET_ADMIN CAP_SYSLOG",
		}},
		{"sonde-collector.service", "/usr/bin/sonde-collector serve --data /var/lib/sonde-collector --log-format json $SONDE_COLLECTOR_FLAGS", "sonde-collector", map[string]string{
			"User": "sonde", "Group": "sonde", "ProtectHome": "yes", "StateDirectoryMode": "0700",
			"CapabilityBoundingSet": "", "AmbientCapabilities": "", "PrivateDevices": "yes",
			"EnvironmentFile": "-/etc/sonde-collector/collector.env",
		}},
	} {
		text := unitFile(t, c.unit)
		s := unitSettings(text)
		words, err := execStart(text)
		if err != nil || strings.Join(words, " ") != c.exec {
			t.Errorf("%s: ExecStart %q (%v), want %q", c.unit, words, err, c.exec)
		}
		for k, v := range hardening {
			c.want[k] = v
		}
		c.want["StateDirectory"] = c.state
		c.want["WantedBy"] = "multi-user.target"
		for k, v := range c.want {
			if got := s[k]; len(got) != 1 || got[0] != v {
				t.Errorf("%s: %s=%q, want %q", c.unit, k, got, v)
			}
		}
		if len(s["RestartSec"]) != 1 {
			t.Errorf("%s: no RestartSec", c.unit)
		}
	}
	// The agent reads enroll.env itself (and deletes it): systemd must
	// not hand it to the agent as its environment.
	if s := unitSettings(unitFile(t, "sonde-agent.service")); len(s["EnvironmentFile"]) != 0 || len(s["User"]) != 0 {
		t.Errorf("sonde-agent.service: EnvironmentFile %q, User %q: want neither", s["EnvironmentFile"], s["User"])
	}
}

// TestStartHints checks that what the scripts say to run where systemd
// does not is what the units run.
func TestStartHints(t *testing.T) {
	for _, c := range []struct{ script, unit, prefix string }{
		{"agent", "sonde-agent.service", "start the agent with: "},
		{"collector", "sonde-collector.service", "start the collector with: runuser -u sonde -- "},
	} {
		words, err := execStart(unitFile(t, c.unit))
		if err != nil {
			t.Fatal(err)
		}
		cmd := strings.Join(slices.DeleteFunc(words, func(w string) bool { return strings.HasPrefix(w, "$") }), " ")
		if c.script == "collector" {
			cmd = strings.TrimSuffix(cmd, " --log-format json")
		}
		script, err := assets.ReadFile("scripts/" + c.script + ".sh")
		if err != nil {
			t.Fatal(err)
		}
		if want := `START_HINT="` + c.prefix + cmd + `"`; !strings.Contains(string(script), want) {
			t.Errorf("scripts/%s.sh has no %s", c.script, want)
		}
	}
}

func TestMaintainerScriptsParse(t *testing.T) {
	var shells []string
	for _, sh := range []string{"sh", "dash", "bash", "busybox"} {
		if _, err := exec.LookPath(sh); err == nil {
			shells = append(shells, sh)
		}
	}
	if len(shells) == 0 {
		t.Skip("no shell here")
	}
	for _, p := range packages {
		for _, f := range formats {
			for _, phase := range []string{f.phases.PostInstall, f.phases.PreRemove, f.phases.PostRemove} {
				text, err := p.maintainerScript(phase)
				if err != nil {
					t.Fatal(err)
				}
				for _, sh := range shells {
					args := []string{"-n"}
					if sh == "busybox" {
						args = []string{"sh", "-n"}
					} else if sh == "bash" {
						args = []string{"--posix", "-n"}
					}
					cmd := exec.Command(sh, args...)
					cmd.Stdin = bytes.NewReader(text)
					if out, err := cmd.CombinedOutput(); err != nil {
						t.Errorf("%s %s: %s %v: %v\n%s", p.name, phase, sh, args, err, out)
					}
				}
			}
		}
	}
}

func TestAgentConfigExample(t *testing.T) {
	raw, err := assets.ReadFile("files/agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse(raw)
	if err != nil || len(c.Reachability) != 0 {
		t.Fatalf("the shipped agent.yaml: %+v, %v; want no targets", c, err)
	}
	// Its example, uncommented, is a valid configuration.
	var example []string
	for line := range strings.Lines(string(raw)) {
		if strings.HasPrefix(line, "#reachability:") || strings.HasPrefix(line, "#  - ") {
			example = append(example, line[1:])
		}
	}
	c, err = config.Parse([]byte(strings.Join(example, "")))
	if err != nil || len(c.Reachability) != 4 {
		t.Errorf("the example uncommented: %+v, %v; want 4 targets", c, err)
	}
}

func TestSysctl(t *testing.T) {
	raw, err := assets.ReadFile("files/60-sonde-collector.conf")
	if err != nil {
		t.Fatal(err)
	}
	// quic-go asks for 7 MiB buffers (desiredBufferSize); the ceilings
	// must allow it.
	const quicGoWants = 7 << 20
	got := map[string]int{}
	for line := range strings.Lines(string(raw)) {
		var k string
		var v int
		if _, err := fmt.Sscanf(line, "%s = %d", &k, &v); err == nil {
			got[k] = v
		}
	}
	for _, k := range []string{"net.core.rmem_max", "net.core.wmem_max"} {
		if got[k] != 7500000 || got[k] < quicGoWants {
			t.Errorf("%s = %d, want 7500000 (at least %d)", k, got[k], quicGoWants)
		}
	}
	if len(got) != 2 {
		t.Errorf("settings %v, want rmem_max and wmem_max only", got)
	}
	if script, _ := assets.ReadFile("scripts/collector.sh"); !bytes.Contains(script, []byte("want=7500000")) {
		t.Error("scripts/collector.sh does not compare the ceilings with 7500000")
	}
}

// TestPlaceEnrollment runs the agent package's place_enrollment with the
// settings an installer may have in its environment, on a scratch state
// dir and configuration folder.
func TestPlaceEnrollment(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the enrollment file is made root's: run as root")
	}
	var lib []byte
	for _, part := range []string{"common", "agent"} {
		b, err := assets.ReadFile("scripts/" + part + ".sh")
		if err != nil {
			t.Fatal(err)
		}
		lib = append(lib, b...)
	}
	full := []string{"SONDE_ENROLL_COLLECTOR=collector.example:7443", "SONDE_ENROLL_TOKEN=tok_123-ABC", "SONDE_ENROLL_CA_PIN=sha256:0a1b"}
	for _, c := range []struct {
		name      string
		env       []string
		enrolled  bool   // agent.json is there
		placed    string // enroll.env is there with this
		wantFile  bool
		wantWords string
	}{
		{name: "nothing set", wantWords: ""},
		{name: "all set", env: full, wantFile: true, wantWords: "enrollment settings written"},
		{name: "one missing", env: full[:2], wantWords: "go together"},
		{name: "a newline", env: append(full[:2:2], "SONDE_ENROLL_CA_PIN=sha256:0a\nSONDE_X=1"), wantWords: "control characters"},
		{name: "a space", env: append(full[:1:1], "SONDE_ENROLL_TOKEN=tok 1", full[2]), wantWords: "spaces"},
		{name: "placed by the administrator", env: full, placed: "SONDE_ENROLL_TOKEN=mine\n", wantWords: "already there"},
		{name: "enrolled", env: full, enrolled: true, wantWords: "already enrolled"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			state, conf := filepath.Join(dir, "state"), filepath.Join(dir, "conf")
			for _, d := range []string{state, conf} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if c.enrolled {
				os.WriteFile(filepath.Join(state, "agent.json"), []byte("{}"), 0o644)
			}
			file := filepath.Join(conf, "enroll.env")
			if c.placed != "" {
				os.WriteFile(file, []byte(c.placed), 0o640)
			}
			script := "set -e\n" + string(lib) + "\nSTATE=" + state + " CONF=" + conf + "\nplace_enrollment\necho done\n"
			cmd := exec.Command("sh", "-c", script)
			cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, c.env...)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.HasSuffix(string(out), "done\n") {
				t.Fatalf("place_enrollment failed: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), c.wantWords) || c.wantWords == "" && string(out) != "done\n" {
				t.Errorf("said %q, want %q", out, c.wantWords)
			}
			raw, err := os.ReadFile(file)
			switch {
			case c.placed != "":
				if string(raw) != c.placed {
					t.Errorf("the administrator's file became %q", raw)
				}
			case !c.wantFile:
				if err == nil {
					t.Errorf("enroll.env written:\n%s", raw)
				}
			default:
				fi, err := os.Stat(file)
				if err != nil || fi.Mode().Perm() != 0o600 {
					t.Fatalf("enroll.env: %v, mode %v", err, fi.Mode())
				}
				e, err := config.ParseEnrollment(raw)
				if err != nil || e != (config.Enrollment{Collector: "collector.example:7443", Token: "tok_123-ABC", CAPin: "sha256:0a1b"}) {
					t.Errorf("the agent reads %+v, %v from\n%s", e, err, raw)
				}
				if _, err := os.Stat(file + ".new"); err == nil {
					t.Error("enroll.env.new left behind")
				}
			}
		})
	}
}
