// Package roletable reads the README's table of operations and roles, so
// that tests can hold the documentation to the code.
package roletable

import (
	"fmt"
	"os"
	"strings"
)

// Row is one operation's row.
type Row struct {
	Role, API, UI, CLI, Audited string
}

// Read returns the rows of the operations table in the Markdown file at
// path, by operation name: the rows whose first cell is a code span and
// that have six cells.
func Read(path string) (map[string]Row, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the table of operations: %w", err)
	}
	rows := map[string]Row{}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(strings.ReplaceAll(line, `\|`, "\x00"), "|"), "|")
		if len(cells) != 6 {
			continue
		}
		for i := range cells {
			cells[i] = strings.ReplaceAll(strings.Trim(strings.TrimSpace(cells[i]), "`"), "\x00", "|")
		}
		rows[cells[0]] = Row{Role: cells[1], API: cells[2], UI: cells[3], CLI: cells[4], Audited: cells[5]}
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s has no table of operations", path)
	}
	return rows, nil
}

// Commands returns the CLI commands a row names, each as its words up to
// the first argument: "sonde ticket note|assign REF" gives [ticket note]
// and [ticket assign].
func (r Row) Commands() [][]string {
	var out [][]string
	for _, cmd := range strings.Split(r.CLI, ", ") {
		cmd = strings.Trim(strings.TrimSpace(cmd), "`")
		words, ok := strings.CutPrefix(cmd, "sonde ")
		if !ok {
			continue
		}
		var prefix []string
		var alts []string
		for _, w := range strings.Fields(words) {
			if w == "…" || strings.HasPrefix(w, "-") || strings.ToUpper(w) == w {
				break
			}
			if strings.Contains(w, "|") {
				alts = strings.Split(w, "|")
				break
			}
			prefix = append(prefix, w)
		}
		if alts == nil {
			out = append(out, prefix)
			continue
		}
		for _, a := range alts {
			out = append(out, append(append([]string{}, prefix...), a))
		}
	}
	return out
}
