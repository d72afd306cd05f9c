package macos

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/probe/plist"
	"github.com/sondehq/sonde/installers/release"
)

var (
	epoch     = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	fakeAgent = []byte("\xcf\xfa\xed\xfe a tiny stand-in for the agent binary\n")
)

// testPackage builds the arm64 package of fakeAgent and reads it back.
func testPackage(t testing.TB) ([]byte, *pkgContents) {
	t.Helper()
	pkg, err := productArchive("1.2.3", "arm64", epoch, fakeAgent)
	if err != nil {
		t.Fatal(err)
	}
	c, err := readPackage(pkg)
	if err != nil {
		t.Fatalf("reading the package back: %v", err)
	}
	return pkg, c
}

func TestArchiveLayout(t *testing.T) {
	pkg, _ := testPackage(t)
	entries, err := readXar(pkg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Path)
	}
	want := []string{"Distribution", "sonde-agent.pkg", "sonde-agent.pkg/Bom", "sonde-agent.pkg/PackageInfo", "sonde-agent.pkg/Payload", "sonde-agent.pkg/Scripts"}
	if !slices.Equal(got, want) {
		t.Errorf("the archive holds %q, want %q", got, want)
	}
	for _, e := range entries {
		if e.Path == "sonde-agent.pkg/Payload" && (e.Compress || !bytes.HasPrefix(e.Data, []byte{0x1f, 0x8b})) {
			t.Errorf("Payload is stored compressed %t, starting %x; want gzip stored as it is", e.Compress, e.Data[:2])
		}
	}
}

func TestPackageInfo(t *testing.T) {
	_, c := testPackage(t)
	i := c.Info
	if i.Identifier != "com.sonde.agent" || i.Version != "1.2.3" || i.InstallLocation != "/" || i.Auth != "root" || i.FormatVersion != 2 {
		t.Errorf("PackageInfo %+v", i)
	}
	kb := int64(0)
	for _, f := range c.Payload {
		kb += (int64(len(f.Data)) + 1023) / 1024
	}
	if i.Payload.NumberOfFiles != 11 || i.Payload.InstallKBytes != kb || kb < 3 {
		t.Errorf("PackageInfo counts %d files, %d KB; want 11 files, %d KB", i.Payload.NumberOfFiles, i.Payload.InstallKBytes, kb)
	}
	if i.Scripts.Preinstall.File != "./preinstall" || i.Scripts.Postinstall.File != "./postinstall" {
		t.Errorf("PackageInfo scripts %+v", i.Scripts)
	}
	d := c.Distribution
	if d.Options.HostArchitectures != "arm64" || d.Domains.LocalSystem != "true" || d.Domains.Anywhere != "false" || d.OSVersion.Min != minMacOS {
		t.Errorf("Distribution %+v", d)
	}
	if len(d.PkgRefs) != 1 || d.PkgRefs[0] != (pkgRef{ID: Identifier, Version: "1.2.3", InstallKBytes: kb, OnConclusion: "none", Path: "#sonde-agent.pkg"}) {
		t.Errorf("Distribution pkg-refs %+v", d.PkgRefs)
	}
}

// wantPayload is every path the package installs and its mode.
var wantPayload = []struct {
	path string
	mode uint32
}{
	{".", 0o40755},
	{"./Library", 0o40755},
	{"./Library/LaunchDaemons", 0o40755},
	{"./Library/LaunchDaemons/com.sonde.agent.plist", 0o100644},
	{"./usr", 0o40755},
	{"./usr/local", 0o40755},
	{"./usr/local/bin", 0o40755},
	{"./usr/local/bin/sonde-agent", 0o100755},
	{"./usr/local/share", 0o40755},
	{"./usr/local/share/sonde", 0o40755},
	{"./usr/local/share/sonde/uninstall.sh", 0o100755},
}

func TestPayload(t *testing.T) {
	_, c := testPackage(t)
	if len(c.Payload) != len(wantPayload) {
		t.Fatalf("the payload holds %d entries, want %d", len(c.Payload), len(wantPayload))
	}
	for i, w := range wantPayload {
		f := c.Payload[i]
		if f.Path != w.path || f.Mode != w.mode || f.UID != 0 || f.GID != 0 || f.MTime != epoch.Unix() {
			t.Errorf("payload entry %d: %s %o %d:%d %d, want %s %o 0:0 %d", i, f.Path, f.Mode, f.UID, f.GID, f.MTime, w.path, w.mode, epoch.Unix())
		}
	}
	if f := c.Payload[7]; !bytes.Equal(f.Data, fakeAgent) {
		t.Errorf("the payload's agent is %q, want %q", f.Data, fakeAgent)
	}
	if f := c.Payload[10]; !bytes.HasPrefix(f.Data, []byte("#!/bin/sh\n")) || !bytes.Contains(f.Data, []byte("--purge")) {
		t.Errorf("uninstall.sh is not the uninstall script:\n%s", f.Data)
	}
}

func TestBomListsPayload(t *testing.T) {
	_, c := testPackage(t)
	if len(c.Bom) != len(wantPayload) {
		t.Fatalf("the BOM lists %d paths, want %d", len(c.Bom), len(wantPayload))
	}
	// Breadth-first, each folder's entries in name order.
	order := []string{".", "./Library", "./usr", "./Library/LaunchDaemons", "./usr/local",
		"./Library/LaunchDaemons/com.sonde.agent.plist", "./usr/local/bin", "./usr/local/share",
		"./usr/local/bin/sonde-agent", "./usr/local/share/sonde", "./usr/local/share/sonde/uninstall.sh"}
	for i, e := range c.Bom {
		if e.Path != order[i] || e.UID != 0 || e.GID != 0 || e.MTime != uint32(epoch.Unix()) {
			t.Errorf("BOM entry %d: %+v, want %s 0:0 at %d", i, e, order[i], epoch.Unix())
		}
	}
	agent := c.Bom[8]
	if agent.Type != bomFile || agent.Mode != 0o100755 || agent.Size != uint32(len(fakeAgent)) || agent.Checksum != cksum(fakeAgent) {
		t.Errorf("the BOM lists the agent as %+v", agent)
	}
	if dir := c.Bom[6]; dir.Type != bomDir || dir.Mode != 0o40755 || dir.Size != 0 {
		t.Errorf("the BOM lists /usr/local/bin as %+v", dir)
	}
}

func TestScripts(t *testing.T) {
	_, c := testPackage(t)
	var got []string
	for _, f := range c.Scripts {
		got = append(got, f.Path)
		if f.Path != "." && (f.Mode != 0o100755 || !bytes.HasPrefix(f.Data, []byte("#!/bin/sh\n"))) {
			t.Errorf("script %s: mode %o, starts %.12q; want 100755 and #!/bin/sh", f.Path, f.Mode, f.Data)
		}
	}
	if want := []string{".", "./postinstall", "./preinstall"}; !slices.Equal(got, want) {
		t.Errorf("Scripts holds %q, want %q", got, want)
	}
}

// TestLaunchDaemon parses the installed plist back and checks what
// launchd reads.
func TestLaunchDaemon(t *testing.T) {
	_, c := testPackage(t)
	d, err := plist.ParseDict(c.Payload[3].Data)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{
		"Label":             "com.sonde.agent",
		"RunAtLoad":         true,
		"KeepAlive":         true,
		"ThrottleInterval":  int64(30),
		"StandardErrorPath": "/Library/Logs/Sonde/agent.log",
	} {
		if d[key] != want {
			t.Errorf("%s = %#v, want %#v", key, d[key], want)
		}
	}
	args, _ := d["ProgramArguments"].([]any)
	want := []any{"/usr/local/bin/sonde-agent", "run", "--state", "/Library/Application Support/Sonde/agent", "--log-format", "json"}
	if !slices.Equal(args, want) {
		t.Errorf("ProgramArguments %q, want %q", args, want)
	}
	if len(d) != 8 {
		t.Errorf("the plist has %d keys, want 8: %v", len(d), d)
	}
}

// TestReproducible builds the packages twice, from fake binaries, and
// compares them.
func TestReproducible(t *testing.T) {
	var sums [2]map[string][32]byte
	for i := range sums {
		b := &release.Build{Version: "0.0.0~dev.3.gabcdef0", Epoch: epoch, Out: t.TempDir()}
		for _, arch := range []string{"amd64", "arm64"} {
			bin := b.Bin(release.Agent, release.Target{OS: "darwin", Arch: arch})
			if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(bin, append([]byte(arch), fakeAgent...), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		got, err := Build(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		sums[i] = map[string][32]byte{}
		for _, p := range got {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			sums[i][filepath.Base(p)] = sha256.Sum256(data)
			if st, err := os.Stat(p); err != nil || !st.ModTime().Equal(epoch) {
				t.Errorf("%s: modified %v, want %v", p, st.ModTime(), epoch)
			}
		}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range sums[0] {
			yield(n)
		}
	})
	if want := []string{"sonde-agent-0.0.0~dev.3.gabcdef0-amd64.pkg", "sonde-agent-0.0.0~dev.3.gabcdef0-arm64.pkg"}; !slices.Equal(names, want) {
		t.Fatalf("Build wrote %q, want %q", names, want)
	}
	for n, s := range sums[0] {
		if sums[1][n] != s {
			t.Errorf("%s differs between two builds", n)
		}
	}
	if sums[0][names[0]] == sums[0][names[1]] {
		t.Error("the amd64 and arm64 packages are the same")
	}
}

func TestBuildNeedsTheAgent(t *testing.T) {
	b := &release.Build{Version: "1.0.0", Epoch: epoch, Out: t.TempDir()}
	_, err := Build(context.Background(), b)
	if err == nil || !strings.Contains(err.Error(), "darwin/amd64") {
		t.Errorf("Build without binaries: %v, want an error naming darwin/amd64", err)
	}
}

// TestReadPackageRefusesMismatches changes one part of a package and
// expects readPackage to notice.
func TestReadPackageRefusesMismatches(t *testing.T) {
	payload, _ := payloadFiles(fakeAgent, epoch.Unix())
	scripts, _ := scriptFiles(epoch.Unix())
	otherBom, _ := writeBom(append(slices.Clone(payload[:len(payload)-1]), file{Path: payload[len(payload)-1].Path, Mode: 0o100700, MTime: epoch.Unix()}))
	for name, change := range map[string]func(e []xarEntry){
		"a BOM that disagrees": func(e []xarEntry) { e[2].Data = otherBom },
		"no Scripts":           func(e []xarEntry) { e[5].Data = mustCpio(t, scripts[:1]) },
		"another identifier": func(e []xarEntry) {
			e[3].Data = bytes.Replace(e[3].Data, []byte(`identifier="com.sonde.agent"`), []byte(`identifier="com.other"`), 1)
		},
		"a wrong file count": func(e []xarEntry) {
			e[3].Data = bytes.Replace(e[3].Data, []byte(`numberOfFiles="11"`), []byte(`numberOfFiles="12"`), 1)
		},
	} {
		pkg, _ := productArchive("1.2.3", "arm64", epoch, fakeAgent)
		entries, err := readXar(pkg)
		if err != nil {
			t.Fatal(err)
		}
		change(entries)
		changed, err := writeXar(entries, epoch)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := readPackage(changed); err == nil {
			t.Errorf("%s: readPackage took it", name)
		}
	}
}

func mustCpio(t *testing.T, fs []file) []byte {
	t.Helper()
	b, err := gzipCpio(fs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzReadPackage(f *testing.F) {
	pkg, _ := testPackage(f)
	f.Add(pkg)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := readPackage(b)
		if err != nil {
			return
		}
		if len(c.Payload) > maxCpioEntries || len(c.Bom) != len(c.Payload) {
			t.Errorf("%d payload entries, %d BOM paths", len(c.Payload), len(c.Bom))
		}
	})
}
