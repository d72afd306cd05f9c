package findings

import (
	"io/fs"
	"testing"
)

// FuzzParseKB feeds arbitrary bytes to the parser of knowledge-base files,
// which LoadKB runs on every file of the team's knowledge-base dir. Nothing
// may panic; every entry returned is valid and placed on a line of the
// file.
func FuzzParseKB(f *testing.F) {
	names, err := fs.Glob(defaults, "kb/*.yaml")
	if err != nil || len(names) == 0 {
		f.Fatalf("default knowledge base: %v %v", names, err)
	}
	for _, name := range names {
		b, err := defaults.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"", "[]\n", "- id: disk.almost-full\n  title: T\n  user_explanation: U\n  steps: [a, b]\n  references: [https://example.com]\n",
		"- id: x\n  title: T\n  user_explanation: U\n  steps: ['  ']\n",
		"- id: x\n  title: T\n  user_explanation: U\n  extra: 1\n",
		"- id: Not Valid\n  title: T\n  user_explanation: U\n",
		"- &e {id: a.b, title: T, user_explanation: U}\n- *e\n",
		"[]\n---\n[]\n", "id: x\n", "- id: x\n  title: [\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := parseKB(b)
		if err != nil {
			if entries != nil {
				t.Fatalf("returned %d entries with error %v", len(entries), err)
			}
			return
		}
		lines := 1
		for _, c := range b {
			if c == '\n' {
				lines++
			}
		}
		for _, e := range entries {
			if err := e.validate(); err != nil {
				t.Fatalf("accepted an invalid entry: %v", err)
			}
			if e.line < 0 || e.line > lines {
				t.Fatalf("entry %q on line %d of %d", e.ID, e.line, lines)
			}
		}
		kb := &KB{entries: map[string]Entry{}}
		err = kb.addFiles([]string{"team.yaml"}, func(string) ([]byte, error) { return b, nil }, false)
		unique := map[string]bool{}
		for _, e := range entries {
			unique[e.ID] = true
		}
		if (err == nil) != (len(unique) == len(entries)) {
			t.Fatalf("%d entries, %d IDs, and adding them says %v", len(entries), len(unique), err)
		}
		if err == nil && len(kb.IDs()) != len(entries) {
			t.Fatalf("%d entries give %d IDs", len(entries), len(kb.IDs()))
		}
	})
}
