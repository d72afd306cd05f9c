package diff

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sondehq/sonde/protocol"
)

var update = flag.Bool("update", false, "rewrite testdata/*/expected.{json,txt}")

// TestFixtures compares each case's from.json with its to.json and checks
// the diff, as JSON and as text, against the expected files.
func TestFixtures(t *testing.T) {
	cases, err := filepath.Glob("testdata/*/from.json")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, from := range cases {
		dir := filepath.Dir(from)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			d := Compare(readDoc(t, from), readDoc(t, filepath.Join(dir, "to.json")))
			js, err := json.MarshalIndent(d, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			var txt bytes.Buffer
			if err := d.Text(&txt); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join(dir, "expected.json"), append(js, '\n'))
			golden(t, filepath.Join(dir, "expected.txt"), txt.Bytes())
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update to rewrite it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func readDoc(t testing.TB, path string) *protocol.Document {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d protocol.Document
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &d
}

func compareCase(t *testing.T, name string) *Diff {
	t.Helper()
	dir := filepath.Join("testdata", name)
	return Compare(readDoc(t, filepath.Join(dir, "from.json")), readDoc(t, filepath.Join(dir, "to.json")))
}

// sectioned is a change with its section, for whole-diff comparisons.
type sectioned struct {
	Section string
	Change
}

func allChanges(d *Diff) []sectioned {
	var out []sectioned
	for _, s := range d.Sections {
		for _, c := range s.Changes {
			c.Delta = nil
			out = append(out, sectioned{s.Name, c})
		}
	}
	return out
}

// TestOneServiceDNSPackagePort is the acceptance case: two snapshots of a server that
// differ in one service's state, one DNS server, one package and one
// listening port (and in times, counters and small drifts) differ in
// exactly those four changes.
func TestOneServiceDNSPackagePort(t *testing.T) {
	d := compareCase(t, "one-of-each")
	want := []sectioned{
		{SectionSoftware, Change{Kind: Changed, Subject: "openssl", Before: "3.0.14-1~deb12u2", After: "3.0.15-1~deb12u1"}},
		{SectionServices, Change{Kind: Changed, Subject: "nginx.service", Before: "active (running)", After: "failed"}},
		{SectionNetwork, Change{Kind: Removed, Subject: "DNS server", Before: "203.0.113.54"}},
		{SectionNetwork, Change{Kind: Added, Subject: "listening port", After: "tcp 0.0.0.0:8080 (python3, PID 48211, `python3 -m http.server 8080`)"}},
	}
	if got := allChanges(d); !slices.Equal(got, want) {
		t.Errorf("changes:\n got %+v\nwant %+v", got, want)
	}
	for _, s := range d.Sections {
		if len(s.Notes) > 0 {
			t.Errorf("section %s has notes: %q", s.Name, s.Notes)
		}
	}
	if d.Empty() || len(d.Notes) > 0 {
		t.Errorf("Empty() = %v, notes %q", d.Empty(), d.Notes)
	}
}

func TestIdentical(t *testing.T) {
	d := compareCase(t, "identical")
	if !d.Empty() || len(d.Sections) != 0 || len(d.Notes) != 0 {
		t.Fatalf("identical snapshots: %+v", d)
	}
	var b strings.Builder
	if err := d.Text(&b); err != nil || !strings.HasSuffix(b.String(), "no changes\n") {
		t.Errorf("Text = %q, %v", b.String(), err)
	}
	js, err := json.Marshal(d)
	if err != nil || !strings.Contains(string(js), `"sections":[]`) {
		t.Errorf("JSON = %s, %v", js, err)
	}
}

// TestProbeFailed: failed, missing and malformed probes are notes in their
// sections, and nothing is said to have changed there.
func TestProbeFailed(t *testing.T) {
	d := compareCase(t, "probe-failed")
	want := map[string]string{
		SectionSystem:    "not comparable: the system data in the earlier snapshot is not readable",
		SectionServices:  "not comparable: the services probe failed in the later snapshot: systemd not reachable",
		SectionNetwork:   "not comparable: the later snapshot has no network probe",
		SectionDisk:      "not comparable: a snapshot did not list the mounts",
		SectionMemory:    "not comparable: the memory data in the later snapshot is not readable",
		SectionProcesses: "not comparable: the processes data in the earlier snapshot is not readable",
		SectionSoftware:  "not comparable: a snapshot has no package list",
	}
	for name, note := range want {
		s := d.Section(name)
		if s == nil {
			t.Errorf("no section %s", name)
			continue
		}
		if !slices.ContainsFunc(s.Notes, func(n string) bool { return strings.HasPrefix(n, note) }) {
			t.Errorf("section %s notes %q, want one starting %q", name, s.Notes, note)
		}
	}
	// The system probe's data is null on one side: the facts stand in.
	if s := d.Section(SectionSystem); s == nil || !slices.Contains(s.Notes, "compared the snapshots' facts instead of the system probe") {
		t.Errorf("system section: %+v", s)
	}
	if !d.Empty() {
		t.Errorf("changes in a diff of unusable probes: %+v", allChanges(d))
	}
}

func TestNilAndEmptyDocuments(t *testing.T) {
	full := readDoc(t, "testdata/identical/from.json")
	for _, c := range []struct{ from, to *protocol.Document }{
		{nil, nil}, {nil, full}, {full, nil}, {&protocol.Document{}, &protocol.Document{}},
	} {
		d := Compare(c.from, c.to)
		if !d.Empty() {
			t.Errorf("changes against a missing document: %+v", allChanges(d))
		}
		if err := d.Text(&bytes.Buffer{}); err != nil {
			t.Error(err)
		}
	}
	if d := Compare(nil, full); d.Section(SectionServices) == nil {
		t.Error("no note on services missing from the earlier snapshot")
	}
}

func TestDifferentAgents(t *testing.T) {
	a, b := readDoc(t, "testdata/identical/from.json"), readDoc(t, "testdata/identical/to.json")
	b.AgentID = "01JOTHERAGENT0000000000000"
	if d := Compare(a, b); !slices.Contains(d.Notes, "the snapshots come from different agents") {
		t.Errorf("notes %q", d.Notes)
	}
}
