package probe

import (
	"strings"
	"testing"
)

// TestSoftwareBoundBytes: a list past the byte bound is cut, and the
// packages cut are counted in their sources.
func TestSoftwareBoundBytes(t *testing.T) {
	long := strings.Repeat("x", maxSoftwareText)
	r := &SoftwareResult{Sources: []SoftwareSource{{Name: "a"}, {Name: "b"}}}
	for i := range 2 * maxSoftwarePackages {
		src := "a"
		if i >= maxSoftwarePackages {
			src = "b"
		}
		r.Packages = append(r.Packages, SoftwarePackage{Source: src, Name: long, Version: long, Publisher: long})
	}
	r.Sources[0].Packages, r.Sources[1].Packages = maxSoftwarePackages, maxSoftwarePackages
	r.boundBytes()
	const per = 120 + 1 + 3*maxSoftwareText
	kept := maxSoftwareBytes / per
	if !r.Truncated || len(r.Packages) != kept {
		t.Fatalf("truncated %v, %d packages kept, want %d", r.Truncated, len(r.Packages), kept)
	}
	a, b := r.Sources[0], r.Sources[1]
	if a.Packages+b.Packages != kept || a.LeftOff+b.LeftOff != 2*maxSoftwarePackages-kept {
		t.Errorf("sources %+v %+v", a, b)
	}
}

func TestSoftwareText(t *testing.T) {
	for in, want := range map[string]string{
		"  curl \n":              "curl",
		"caf\xe9":                "caf\uFFFD",
		strings.Repeat("é", 200): strings.Repeat("é", 128),
	} {
		if got := cleanText(in, 256); got != want {
			t.Errorf("cleanText(%q) = %q, want %q", in, got, want)
		}
	}
	if got := cleanText("aé", 2); got != "a" {
		t.Errorf("cut inside a rune: %q", got)
	}
}

func TestReleaseVersion(t *testing.T) {
	for in, want := range map[string]string{
		`<releases><release version="1.2" date="x"/></releases>`: "1.2",
		`<releases>\n<release date='x'\n version='3.0'/>`:        "3.0",
		`<release date="2024" subversion="9" version="2.0"/>`:    "2.0",
		`<releases></releases>`:                                  "",
		`<release date="x"/><release version="0.9"/>`:            "",
		`<release version="unterminated`:                         "",
	} {
		if got := releaseVersion([]byte(in)); got != want {
			t.Errorf("releaseVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSnapVersion(t *testing.T) {
	for in, want := range map[string]string{
		"name: x\nversion: 1.0\n":        "1.0",
		"version: \"2.61.3\"\r\n":        "2.61.3",
		"description: |\n  version: 9\n": "",
		"version: 'git'":                 "git",
	} {
		if got := snapVersion([]byte(in)); got != want {
			t.Errorf("snapVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestKBNumber(t *testing.T) {
	for in, want := range map[string]string{
		"Package_for_KB5034441~31bf3856ad364e35~amd64~~10.0.1.0": "KB5034441",
		`C:\x\Windows11.0-kb5046617-x64.cab`:                     "KB5046617",
		"Package_for_KBX_KB12":                                   "KB12",
		"Package_for_RollupFix":                                  "",
		"kb":                                                     "",
	} {
		if got := kbNumber(in); got != want {
			t.Errorf("kbNumber(%q) = %q, want %q", in, got, want)
		}
	}
	if got := filetimeUnix(116444736000000000 + 10_000_000); got != 1 {
		t.Errorf("filetimeUnix = %d", got)
	}
	if got := filetimeUnix(5); got != 0 {
		t.Errorf("filetimeUnix before 1970 = %d", got)
	}
}

func TestUpdatesAvailable(t *testing.T) {
	for in, want := range map[string]PendingUpdates{
		"\n0 updates can be applied immediately.\n\n":                                               {},
		"1 update can be applied immediately.\n1 of these updates is a standard security update.\n": {Available: 1, Security: 1},
		"7 packages can be updated.\n2 updates are security updates.\n":                             {Available: 7, Security: 2},
		"3 additional security updates can be applied with ESM Apps.\n":                             {},
	} {
		if got := parseUpdatesAvailable([]byte(in)); *got != want {
			t.Errorf("%q: %+v, want %+v", in, *got, want)
		}
	}
}
