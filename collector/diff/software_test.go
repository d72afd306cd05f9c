package diff

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestSoftwareInstallRemoveUpgrade: a laptop between two snapshots had
// packages upgraded (deb and snap), installed (a deb, a first flatpak),
// removed, and now needs a reboot; the diff says exactly that.
func TestSoftwareInstallRemoveUpgrade(t *testing.T) {
	d := compareCase(t, "software-update")
	want := []Change{
		{Kind: Changed, Subject: "curl (dpkg)", Before: "8.5.0-2ubuntu10.5", After: "8.5.0-2ubuntu10.6"},
		{Kind: Changed, Subject: "firefox (snap)", Before: "131.0.3-1", After: "132.0.2-1"},
		{Kind: Changed, Subject: "libc6 (dpkg)", Before: "2.39-0ubuntu8.2", After: "2.39-0ubuntu8.3"},
		{Kind: Added, Subject: "linux-image-6.8.0-49-generic (dpkg)", After: "6.8.0-49.49"},
		{Kind: Removed, Subject: "nano (dpkg)", Before: "7.2-2build1"},
		{Kind: Added, Subject: "org.gimp.GIMP (flatpak)", After: "2.10.38"},
		{Kind: Added, Subject: "zoom (dpkg)", After: "6.2.5.2440"},
		{Kind: Changed, Subject: "reboot required", Before: "no", After: "yes"},
	}
	s := d.Section(SectionSoftware)
	if s == nil || !slices.Equal(s.Changes, want) || len(s.Notes) != 0 {
		t.Fatalf("software section %+v\nwant changes %+v", s, want)
	}
}

// TestSoftwareFirst: the software section comes first, in the JSON's
// sections and in the text, whatever else changed.
func TestSoftwareFirst(t *testing.T) {
	svc := func(state string) string {
		return `{"services":[{"name":"cups.service","active_state":"` + state + `"}],"failed":[]}`
	}
	pkgs := func(list string) string {
		return `{"sources":[{"name":"dpkg","packages":1}],"packages":[` + list + `]}`
	}
	d := Compare(
		doc("services", svc("active"), "software", pkgs(`{"source":"dpkg","name":"cups","version":"2.4.2"}`)),
		doc("services", svc("failed"), "software", pkgs(`{"source":"dpkg","name":"cups","version":"2.4.2"},{"source":"dpkg","name":"sonde-canary-pkg","version":"1.0"}`)))
	if len(d.Sections) != 2 || d.Sections[0].Name != SectionSoftware || d.Sections[1].Name != SectionServices {
		t.Fatalf("sections %+v", d.Sections)
	}
	var b bytes.Buffer
	if err := d.Text(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	first := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "  ") })
	if first < 1 || lines[first-1] != "software" || lines[first] != "  + sonde-canary-pkg (dpkg): 1.0" {
		t.Errorf("text:\n%s", b.String())
	}
}

// TestSoftwareSources: a source that could not be read on either side is
// not compared (its packages would all look removed), and said so; a
// source the machine did not have is an empty one.
func TestSoftwareSources(t *testing.T) {
	const snap = `{"source":"snap","name":"firefox","version":"131"}`
	const deb = `{"source":"dpkg","name":"bash","version":"5.2"}`
	data := func(sources, pkgs string) string {
		return `{"sources":[` + sources + `],"packages":[` + pkgs + `]}`
	}
	d := Compare(
		doc("software", data(`{"name":"dpkg","packages":1},{"name":"snap","packages":1}`, deb+","+snap)),
		doc("software", data(`{"name":"dpkg","packages":0},{"name":"snap","packages":0,"error":"listing snaps: permission denied"}`, "")))
	s := d.Section(SectionSoftware)
	want := []Change{{Kind: Removed, Subject: "bash (dpkg)", Before: "5.2"}}
	if s == nil || !slices.Equal(s.Changes, want) {
		t.Fatalf("unreadable snap source: %+v", s)
	}
	if len(s.Notes) != 1 || !strings.Contains(s.Notes[0], "snap packages not compared: in the later snapshot it could not be read: listing snaps: permission denied") {
		t.Errorf("notes %q", s.Notes)
	}
	d = Compare(
		doc("software", data(`{"name":"snap","packages":0,"error":"not available here: no snaps (/snap)"}`, "")),
		doc("software", data(`{"name":"snap","packages":1}`, snap)))
	want = []Change{{Kind: Added, Subject: "firefox (snap)", After: "131"}}
	if got := changesOf(d, SectionSoftware); !slices.Equal(got, want) || len(d.Section(SectionSoftware).Notes) != 0 {
		t.Errorf("snapd installed: %+v", d.Section(SectionSoftware))
	}
	d = Compare(
		doc("software", data(`{"name":"rpm","packages":1,"truncated":true}`, `{"source":"rpm","name":"a","version":"1"}`)),
		doc("software", data(`{"name":"rpm","packages":0}`, "")))
	if got := d.Section(SectionSoftware); len(got.Changes) != 0 || len(got.Notes) != 1 {
		t.Errorf("truncated source: %+v", got)
	}
}

// TestSoftwareCutShort: a list with packages left off says nothing of the
// names past its last; the two snapshots' packages of one name from two
// sources are two packages.
func TestSoftwareCutShort(t *testing.T) {
	list := func(left int, names ...string) string {
		pkgs := []string{`{"source":"snap","name":"b","version":"9"}`}
		for _, n := range names {
			pkgs = append(pkgs, `{"source":"dpkg","name":"`+n+`","version":"1"}`)
		}
		return `{"sources":[{"name":"dpkg","packages":` + strconv.Itoa(len(names)) + `,"left_off":` + strconv.Itoa(left) + `}],"packages":[` +
			strings.Join(pkgs, ",") + `]}`
	}
	d := Compare(doc("software", list(0, "a", "b", "c")), doc("software", list(5, "b")))
	want := []Change{{Kind: Removed, Subject: "a (dpkg)", Before: "1"}}
	s := d.Section(SectionSoftware)
	if !slices.Equal(s.Changes, want) || len(s.Notes) != 1 || !strings.Contains(s.Notes[0], `beyond "b"`) {
		t.Errorf("got %+v", s)
	}
	d = Compare(doc("software", list(0, "a")), doc("software", list(3)))
	if s := d.Section(SectionSoftware); len(s.Changes) != 0 || !strings.Contains(s.Notes[0], "before its first package") {
		t.Errorf("all left off: %+v", s)
	}
}
