package findings

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sondehq/sonde/internal/limitfile"

	"go.yaml.in/yaml/v3"
)

// defaults are the knowledge base shipped with Sonde: one file per area,
// each a YAML list of entries.
//
//go:embed kb/*.yaml
var defaults embed.FS

// maxKBFile bounds one knowledge-base file.
const maxKBFile = 1 << 20

// Entry is the knowledge base's article on one finding ID.
type Entry struct {
	ID    string `yaml:"id" json:"id"`
	Title string `yaml:"title" json:"title"`
	// Explanation is for the L2 engineer: what the finding means and how
	// to confirm it.
	Explanation string `yaml:"explanation" json:"explanation,omitempty"`
	// UserExplanation is for the person at the keyboard, in plain words.
	UserExplanation string `yaml:"user_explanation" json:"user_explanation"`
	// Steps are for the person at the keyboard too (sonde-agent check,
	// and L1 reads them out).
	Steps []string `yaml:"steps" json:"steps,omitempty"`
	// L2Steps are for the L2 engineer: what to run or look at to confirm
	// the finding (sonde snapshot/diff, journalctl, Get-WinEvent, log
	// show) and how to fix it remotely. Every shipped entry has them; a
	// team's own entries may leave them out. Below L2 they are not shown,
	// like evidence.
	L2Steps    []string `yaml:"l2_steps,omitempty" json:"l2_steps,omitempty"`
	References []string `yaml:"references,omitempty" json:"references,omitempty"`
}

// KB is a knowledge base: entries by finding ID.
type KB struct {
	entries map[string]Entry
}

// LoadKB returns the default knowledge base, with the entries of the YAML
// files (*.yaml, *.yml) in dir added, each replacing a default of the same
// ID whole. An empty dir means the defaults alone. Every default entry must
// have l2_steps; a team's entries may leave them out (then L2 sees none
// for that ID), and give none empty. An error names the file and, when
// known, the line.
func LoadKB(dir string) (*KB, error) {
	kb := &KB{entries: map[string]Entry{}}
	names, err := fs.Glob(defaults, "kb/*.yaml")
	if err != nil {
		return nil, fmt.Errorf("listing the default knowledge base: %w", err)
	}
	if err := kb.addFiles(names, func(name string) ([]byte, error) { return defaults.ReadFile(name) }, true); err != nil {
		return nil, err
	}
	if dir == "" {
		return kb, nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("findings: reading knowledge base: %w", err)
	}
	var files []string
	for _, e := range ents {
		if ext := path.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	over := &KB{entries: map[string]Entry{}}
	if err := over.addFiles(files, func(name string) ([]byte, error) { return limitfile.Read(name, maxKBFile) }, false); err != nil {
		return nil, err
	}
	for id, e := range over.entries {
		kb.entries[id] = e
	}
	return kb, nil
}

// addFiles adds the entries of the files, in name order; an ID given twice
// among them is an error, and so is an entry without l2_steps among the
// shipped ones.
func (kb *KB) addFiles(names []string, read func(string) ([]byte, error), shipped bool) error {
	slices.Sort(names)
	from := map[string]string{}
	for _, name := range names {
		b, err := read(name)
		if err != nil {
			return fmt.Errorf("findings: knowledge base %s: %w", name, err)
		}
		entries, err := parseKB(b)
		if err != nil {
			return fmt.Errorf("findings: knowledge base %s: %w", name, err)
		}
		for _, e := range entries {
			if prev, dup := from[e.ID]; dup {
				return fmt.Errorf("findings: knowledge base %s:%d: entry %q already given in %s", name, e.line, e.ID, prev)
			}
			if shipped && len(e.L2Steps) == 0 {
				return fmt.Errorf("findings: knowledge base %s:%d: entry %q has no l2_steps: every shipped entry tells L2 how to confirm and fix it", name, e.line, e.ID)
			}
			from[e.ID] = name
			kb.entries[e.ID] = e.Entry
		}
	}
	return nil
}

// lined is an entry and the line it starts on.
type lined struct {
	Entry
	line int
}

// parseKB decodes one file strictly: a list of entries, with no field
// beyond Entry's and no second document.
func parseKB(b []byte) ([]lined, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var entries []Entry
	if err := dec.Decode(&entries); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // an empty file
		}
		return nil, fmt.Errorf("reading the YAML: %w", err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, fmt.Errorf("line %d: only one YAML document is allowed", extra.Line)
	case !errors.Is(err, io.EOF):
		return nil, fmt.Errorf("reading the YAML: %w", err)
	}
	// Decode again as nodes for the line each entry starts on; the strict
	// decode above already proved the shape.
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("reading the YAML: %w", err)
	}
	out := make([]lined, len(entries))
	for i, e := range entries {
		out[i].Entry = e
		if len(doc.Content) == 1 && i < len(doc.Content[0].Content) {
			out[i].line = doc.Content[0].Content[i].Line
		}
		if err := e.validate(); err != nil {
			return nil, fmt.Errorf("line %d: %w", out[i].line, err)
		}
	}
	return out, nil
}

func (e *Entry) validate() error {
	if !validID.MatchString(e.ID) {
		return fmt.Errorf("entry has an invalid id %q (want words like disk.almost-full)", e.ID)
	}
	if strings.TrimSpace(e.Title) == "" {
		return fmt.Errorf("entry %q has no title", e.ID)
	}
	if strings.TrimSpace(e.UserExplanation) == "" {
		return fmt.Errorf("entry %q has no user_explanation", e.ID)
	}
	for i, s := range e.Steps {
		if strings.TrimSpace(s) == "" {
			return fmt.Errorf("entry %q: step %d is empty", e.ID, i+1)
		}
	}
	for i, s := range e.L2Steps {
		if strings.TrimSpace(s) == "" {
			return fmt.Errorf("entry %q: l2_steps item %d is empty", e.ID, i+1)
		}
	}
	return nil
}

// Entry returns the entry for a finding ID.
func (kb *KB) Entry(id string) (Entry, bool) {
	if kb == nil {
		return Entry{}, false
	}
	e, ok := kb.entries[id]
	return e, ok
}

// IDs returns the IDs the knowledge base has entries for, sorted.
func (kb *KB) IDs() []string {
	if kb == nil {
		return nil
	}
	ids := make([]string, 0, len(kb.entries))
	for id := range kb.entries {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
