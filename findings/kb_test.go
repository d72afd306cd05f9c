package findings

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestKBCoversEveryFinding demands a complete default entry for every
// finding ID an analyzer may produce, and no default entry for an ID none
// produces.
func TestKBCoversEveryFinding(t *testing.T) {
	kb, err := LoadKB("")
	if err != nil {
		t.Fatal(err)
	}
	produced := map[string]bool{}
	for _, id := range IDs() {
		produced[id] = true
		e, ok := kb.Entry(id)
		if !ok {
			t.Errorf("no knowledge-base entry for %s: add one to findings/kb/", id)
			continue
		}
		if e.Explanation == "" || e.UserExplanation == "" || len(e.Steps) == 0 || len(e.L2Steps) == 0 {
			t.Errorf("%s: the default entry needs explanation, user_explanation, steps and l2_steps", id)
		}
	}
	for _, id := range kb.IDs() {
		if !produced[id] {
			t.Errorf("knowledge-base entry %s matches no analyzer's finding", id)
		}
	}
	if len(IDs()) < 17 {
		t.Errorf("only %d finding IDs registered", len(IDs()))
	}
}

func writeFile(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestKBOverride(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "local.yaml", `
- id: disk.almost-full
  title: Disk almost full (ACME)
  user_explanation: Call the ACME helpdesk on 1234.
  steps: [Call 1234.]
  references: [https://wiki.acme.example/disk]
- id: acme.vpn-missing
  title: ACME VPN missing
  user_explanation: Install the VPN.
`)
	writeFile(t, dir, "notes.txt", "not yaml: [")
	writeFile(t, dir, "empty.yml", "")
	kb, err := LoadKB(dir)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := kb.Entry("disk.almost-full")
	if e.Title != "Disk almost full (ACME)" || e.Explanation != "" || len(e.Steps) != 1 || e.References[0] != "https://wiki.acme.example/disk" {
		t.Errorf("override not applied whole: %+v", e)
	}
	if _, ok := kb.Entry("acme.vpn-missing"); !ok {
		t.Error("added entry missing")
	}
	if e, ok := kb.Entry("memory.pressure"); !ok || e.UserExplanation == "" {
		t.Error("defaults lost")
	}
}

func TestKBErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"unknown.yaml", "- id: disk.almost-full\n  title: T\n  user_explanation: U\n  colour: red\n", []string{"unknown.yaml", "line 4", "colour"}},
		{"syntax.yaml", "- id: disk.almost-full\n  title: [unclosed\n", []string{"syntax.yaml", "line"}},
		{"notalist.yaml", "id: disk.almost-full\n", []string{"notalist.yaml", "line 1"}},
		{"notitle.yaml", "- id: a.b\n  title: T\n  user_explanation: U\n- id: c.d\n  user_explanation: U\n", []string{"notitle.yaml", "line 4", `"c.d" has no title`}},
		{"badid.yaml", "- id: Disk Full\n  title: T\n  user_explanation: U\n", []string{"badid.yaml", "line 1", "invalid id"}},
		{"emptystep.yaml", "- id: a.b\n  title: T\n  user_explanation: U\n  steps: ['']\n", []string{"emptystep.yaml", "step 1"}},
		{"twodocs.yaml", "- id: a.b\n  title: T\n  user_explanation: U\n---\n- id: c.d\n", []string{"twodocs.yaml", "one YAML document"}},
		{"dup.yaml", "- id: a.b\n  title: T\n  user_explanation: U\n- id: a.b\n  title: T\n  user_explanation: U\n", []string{"dup.yaml:4", "already given"}},
	} {
		dir := t.TempDir()
		writeFile(t, dir, tc.name, tc.text)
		_, err := LoadKB(dir)
		if err == nil {
			t.Errorf("%s: loaded", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", tc.name, err, w)
			}
		}
	}
}

func TestKBDuplicateAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	entry := "- id: a.b\n  title: T\n  user_explanation: U\n"
	writeFile(t, dir, "one.yaml", entry)
	writeFile(t, dir, "two.yaml", entry)
	_, err := LoadKB(dir)
	if err == nil || !strings.Contains(err.Error(), "two.yaml") || !strings.Contains(err.Error(), "one.yaml") {
		t.Errorf("got %v, want an error naming both files", err)
	}
}

func TestKBMissingDir(t *testing.T) {
	if _, err := LoadKB(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("missing directory accepted")
	}
}

func TestNilKB(t *testing.T) {
	var kb *KB
	if _, ok := kb.Entry("disk.almost-full"); ok || kb.IDs() != nil {
		t.Error("nil KB has entries")
	}
}

func TestKBMoreErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       string
	}{
		{"nouser.yaml", "- id: a.b\n  title: T\n", `line 1: entry "a.b" has no user_explanation`},
		{"blank.yaml", "- id: a.b\n  title: T\n  user_explanation: U\n  steps: [one, '  ']\n", `line 1: entry "a.b": step 2 is empty`},
		{"second.yaml", "- id: a.b\n  title: T\n  user_explanation: U\n---\n[unclosed\n", "did not find expected"},
	} {
		dir := t.TempDir()
		writeFile(t, dir, tc.name, tc.text)
		_, err := LoadKB(dir)
		if err == nil || !strings.Contains(err.Error(), "knowledge base "+filepath.Join(dir, tc.name)+": ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.yaml")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), broken); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKB(dir); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "knowledge base "+broken+": ") {
		t.Errorf("unreadable file: %v", err)
	}
}

func TestKBIDs(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.yml", "- id: zz.last\n  title: T\n  user_explanation: U\n")
	if err := os.Mkdir(filepath.Join(dir, "sub.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	kb, err := LoadKB(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := kb.IDs()
	if len(got) != len(IDs())+1 || got[len(got)-1] != "zz.last" || !slices.IsSorted(got) {
		t.Errorf("IDs %v", got)
	}
}

// TestKBL2Steps: a shipped entry without l2_steps fails to load, naming
// its file and line; a team's entry may leave them out, or give its own,
// but none empty.
func TestKBL2Steps(t *testing.T) {
	kb := &KB{entries: map[string]Entry{}}
	shipped := "- id: a.b\n  title: T\n  user_explanation: U\n  l2_steps: [check it]\n- id: c.d\n  title: T\n  user_explanation: U\n  steps: [S]\n"
	err := kb.addFiles([]string{"kb/x.yaml"}, func(string) ([]byte, error) { return []byte(shipped), nil }, true)
	if err == nil || !strings.Contains(err.Error(), `kb/x.yaml:5: entry "c.d" has no l2_steps`) {
		t.Errorf("shipped entry without l2_steps: %v", err)
	}

	dir := t.TempDir()
	writeFile(t, dir, "team.yaml", `
- id: acme.vpn-missing
  title: ACME VPN missing
  user_explanation: Install the VPN.
- id: disk.almost-full
  title: Disk almost full (ACME)
  user_explanation: Call 1234.
  l2_steps: ["Run the ACME clean-up job: acme-clean HOST."]
`)
	got, err := LoadKB(dir)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := got.Entry("acme.vpn-missing"); e.L2Steps != nil {
		t.Errorf("team entry without l2_steps: %+v", e)
	}
	if e, _ := got.Entry("disk.almost-full"); !slices.Equal(e.L2Steps, []string{"Run the ACME clean-up job: acme-clean HOST."}) {
		t.Errorf("team override's l2_steps: %q", e.L2Steps)
	}
	if e, _ := got.Entry("service.failed"); len(e.L2Steps) < 2 || !strings.Contains(strings.Join(e.L2Steps, " "), "journalctl -u UNIT") {
		t.Errorf("default l2_steps: %q", e.L2Steps)
	}
	writeFile(t, dir, "team.yaml", "- id: a.b\n  title: T\n  user_explanation: U\n  l2_steps: [one, ' ']\n")
	if _, err := LoadKB(dir); err == nil || !strings.Contains(err.Error(), `line 1: entry "a.b": l2_steps item 2 is empty`) {
		t.Errorf("empty l2 step: %v", err)
	}
}
