package probe

import (
	"os"
	"testing"
	"time"
	"unicode/utf8"
)

// The fuzz targets of the software probe's parsers: whatever the host's
// files hold, they never panic and keep within their bounds.

func seedFile(f *testing.F, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
}

func FuzzDpkgStatus(f *testing.F) {
	seedFile(f, "testdata/software/debian-laptop/root/var/lib/dpkg/status")
	f.Add([]byte("Package: a\nStatus: install ok installed\n\nPackage: b\nStatus: install ok\n\r\n"))
	const limit = 3
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, more := parseDpkgStatus(b, limit)
		if len(entries) > limit || more < 0 || more > 0 && len(entries) != limit {
			t.Fatalf("%d entries, %d more, limit %d", len(entries), more, limit)
		}
		for _, e := range entries {
			if e.name == "" || e.state == "" || e.state == "not-installed" || e.state == "config-files" {
				t.Fatalf("entry %+v", e)
			}
		}
	})
}

func FuzzDpkgLog(f *testing.F) {
	seedFile(f, "testdata/software/debian-laptop/root/var/log/dpkg.log")
	seedFile(f, "testdata/software/debian-laptop/root/var/log/dpkg.log.1")
	loc := time.FixedZone("CET", 3600)
	f.Fuzz(func(t *testing.T, b []byte) {
		l := newDpkgLog()
		l.parse(b, loc)
		l.parse(b, loc)
		if len(l.times) > maxDpkgLogPackages || len(l.pending) > maxDpkgLogPackages {
			t.Fatalf("%d times, %d pending", len(l.times), len(l.pending))
		}
		for pkg := range l.times {
			if pkg == "" {
				t.Fatal("a time for no package")
			}
		}
	})
}

func FuzzRPM(f *testing.F) {
	seedFile(f, "testdata/software/rpm-server/rpm-qa.txt")
	f.Add([]byte("a\tb\tc\td\n\t\t\t\n(none)\t(none)\t(none)\t(none)\n"))
	const limit = 4
	f.Fuzz(func(t *testing.T, b []byte) {
		pkgs, more := parseRPM(b, limit)
		if len(pkgs) > limit || more < 0 || more > 0 && len(pkgs) != limit {
			t.Fatalf("%d packages, %d more, limit %d", len(pkgs), more, limit)
		}
		for _, p := range cleanPackages("rpm", pkgs) {
			if p.Name == "" || !utf8.ValidString(p.Name+p.Version+p.Arch) || len(p.Name) > maxSoftwareText || p.InstalledAt < 0 {
				t.Fatalf("package %+v", p)
			}
		}
	})
}
