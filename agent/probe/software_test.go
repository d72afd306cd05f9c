package probe_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/probe"
	"github.com/sondehq/sonde/agent/probe/winreg"
)

// softwareCase is a software fixture's fakes.json: the platform whose
// sources the case holds, the clock, the modification times of its files
// (git does not keep them), a registry export and the recorded output of
// fixed tools.
type softwareCase struct {
	Platform     string               `json:"platform"`
	Now          time.Time            `json:"now"`
	DefaultMtime time.Time            `json:"default_mtime"`
	Mtimes       map[string]time.Time `json:"mtimes"`
	Registry     string               `json:"registry"`
	Tools        map[string]struct {
		Output    string `json:"output"`
		Truncated bool   `json:"truncated"`
	} `json:"tools"`
}

// softwareFakes reads dir/fakes.json, sets the modification times of the
// files under dir/root, and returns the probe's fakes.
func softwareFakes(t *testing.T, dir string) probe.SoftwareFakes {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "fakes.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c softwareCase
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s/fakes.json: %v", dir, err)
	}
	root := filepath.Join(dir, "root")
	if !c.DefaultMtime.IsZero() {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.Type()&fs.ModeSymlink != 0 {
				return err
			}
			return os.Chtimes(path, c.DefaultMtime, c.DefaultMtime)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for rel, mt := range c.Mtimes {
		if err := os.Chtimes(filepath.Join(root, rel), mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	f := probe.SoftwareFakes{Platform: c.Platform, Now: c.Now}
	if c.Registry != "" {
		b, err := os.ReadFile(filepath.Join(dir, c.Registry))
		if err != nil {
			t.Fatal(err)
		}
		if f.Registry, err = winreg.ParseExport(b); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.Tools) > 0 {
		f.Tool = func(name string, args ...string) ([]byte, bool, error) {
			tool, ok := c.Tools[name]
			if !ok {
				return nil, false, probe.ErrNotAvailable
			}
			out, err := os.ReadFile(filepath.Join(dir, tool.Output))
			return out, tool.Truncated, err
		}
	}
	return f
}

// TestSoftware runs the probe over each fixture machine: a Debian/Ubuntu
// laptop (dpkg, a snap, a flatpak, a pending reboot and updates), an rpm
// server (recorded rpm output), a Windows PC (a registry export) and a Mac
// (XML and binary Info.plists, receipts).
func TestSoftware(t *testing.T) {
	for _, dir := range cases(t, "software") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			f := softwareFakes(t, dir)
			goldenSequence(t, func() probe.Probe { return probe.NewTestSoftware(f) }, dir)
		})
	}
}

// TestSoftwareRPMArgs checks the one command the probe runs: rpm with
// fixed arguments whose query tags rpm knows.
func TestSoftwareRPMArgs(t *testing.T) {
	var got []string
	p := probe.NewTestSoftware(probe.SoftwareFakes{Platform: "linux", Tool: func(name string, args ...string) ([]byte, bool, error) {
		got = append([]string{name}, args...)
		return []byte("bash\t5.1.8-9.el9\tx86_64\t1715004577\n"), false, nil
	}})
	v, err := p.Collect(probe.WithRoot(context.Background(), t.TempDir()), &probe.Env{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"rpm", "-qa", "--queryformat",
		`%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\t%{ARCH}\t%{INSTALLTIME}\n`}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("ran %q, want %q", got, want)
	}
	r := v.(*probe.SoftwareResult)
	if len(r.Packages) != 1 || r.Packages[0].Source != "rpm" || r.Packages[0].Name != "bash" || r.Packages[0].InstalledAt != 1715004577 {
		t.Errorf("packages %+v", r.Packages)
	}
	// Health snapshots never run a tool.
	got = nil
	if _, err := p.Collect(probe.WithRoot(context.Background(), t.TempDir()), &probe.Env{Health: true}); err != nil || got != nil {
		t.Errorf("health run: %v, ran %q", err, got)
	}
}

// TestSoftwareNothingHere: a machine with none of the platform's package
// databases has no software data, and says which it looked for.
func TestSoftwareNothingHere(t *testing.T) {
	for _, platform := range []string{"linux", "darwin", "windows", "plan9"} {
		p := probe.NewTestSoftware(probe.SoftwareFakes{Platform: platform})
		_, err := p.Collect(probe.WithRoot(context.Background(), t.TempDir()), &probe.Env{})
		if !errors.Is(err, probe.ErrNotAvailable) {
			t.Errorf("%s: %v, want not available", platform, err)
		}
	}
}

// TestSoftwareBounds: past 5,000 packages a source lists the first by
// name and counts the rest.
func TestSoftwareBounds(t *testing.T) {
	root := t.TempDir()
	var status strings.Builder
	for i := range 5100 {
		status.WriteString("Package: pkg" + strings.Repeat("0", 4-len(itoa(i))) + itoa(i) +
			"\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0\n\n")
	}
	if err := os.MkdirAll(filepath.Join(root, "var/lib/dpkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), []byte(status.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := probe.NewTestSoftware(probe.SoftwareFakes{Platform: "linux"}).Collect(probe.WithRoot(context.Background(), root), &probe.Env{})
	if err != nil {
		t.Fatal(err)
	}
	r := v.(*probe.SoftwareResult)
	dpkg := r.Sources[0]
	if dpkg.Name != "dpkg" || dpkg.Packages != 5000 || dpkg.LeftOff != 100 || dpkg.Truncated || len(r.Packages) != 5000 {
		t.Fatalf("dpkg source %+v, %d packages", dpkg, len(r.Packages))
	}
	if last := r.Packages[4999].Name; last != "pkg4999" {
		t.Errorf("last listed %s, want pkg4999", last)
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// TestSoftwareOnThisMachine runs the registered probe on the real host: on
// a Debian machine it lists dpkg itself with a version, and rpm, where it
// is not installed, is not available without failing the rest.
func TestSoftwareOnThisMachine(t *testing.T) {
	if _, err := os.Stat("/var/lib/dpkg/status"); runtime.GOOS != "linux" || err != nil {
		t.Skip("not a Debian machine")
	}
	p, ok := probe.New("software")
	if !ok {
		t.Fatal("software probe not registered")
	}
	if spec, _ := probe.SpecOf("software"); !spec.Heavy {
		t.Error("the software probe is not heavy")
	}
	v, err := p.Collect(context.Background(), &probe.Env{})
	if err != nil {
		t.Fatal(err)
	}
	r := v.(*probe.SoftwareResult)
	var dpkg *probe.SoftwarePackage
	for i := range r.Packages {
		if r.Packages[i].Source == "dpkg" && r.Packages[i].Name == "dpkg" {
			dpkg = &r.Packages[i]
		}
	}
	if dpkg == nil || dpkg.Version == "" || dpkg.InstalledAt == 0 {
		t.Fatalf("dpkg itself is not listed with a version and time: %+v", dpkg)
	}
	for _, s := range r.Sources {
		if s.Name == "rpm" {
			if _, err := exec.LookPath("rpm"); err != nil && !strings.HasPrefix(s.Error, "not available here") {
				t.Errorf("rpm source without rpm: %+v", s)
			}
		}
	}
	b, err := json.Marshal(r)
	if err != nil || len(b) > 4<<20 {
		t.Errorf("result of %d bytes, %v", len(b), err)
	}
}
