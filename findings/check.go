package findings

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sondehq/sonde/internal/render"
	"github.com/sondehq/sonde/protocol"
)

// checkWidth is the width Check wraps its text to.
const checkWidth = 76

// userSeverity names severities for the person at the keyboard.
var userSeverity = map[Severity]string{Critical: "urgent", Warning: "important", Info: "for your information"}

// Check writes the findings of doc in plain language for the person at the
// keyboard (level 0 self-help): "Everything looks fine" when there are none,
// else each finding with the knowledge base's explanation and steps, most
// severe first. It names the checks that could not run. A nil kb means the
// default knowledge base. Text from the snapshot is untrusted: control
// characters are shown escaped, never sent to the terminal.
func Check(w io.Writer, doc *protocol.Document, kb *KB) error {
	if doc == nil {
		return errors.New("findings: no snapshot to check")
	}
	if kb == nil {
		var err error
		if kb, err = LoadKB(""); err != nil {
			return err
		}
	}
	fs := Analyze(doc, nil)
	var b strings.Builder
	switch len(fs) {
	case 0:
		b.WriteString("Everything looks fine.\n")
	case 1:
		b.WriteString("Sonde found 1 thing to look at.\n")
	default:
		fmt.Fprintf(&b, "Sonde found %d things to look at, most important first.\n", len(fs))
	}
	for i, f := range fs {
		b.WriteString("\n")
		head := fmt.Sprintf("%d. ", i+1)
		pad := strings.Repeat(" ", len(head))
		wrap(&b, head, pad, fmt.Sprintf("%s (%s)", f.Title, userSeverity[f.Severity]))
		e, ok := kb.Entry(f.ID)
		if !ok {
			wrap(&b, pad, pad, "Tell your IT support about this.")
		} else {
			wrap(&b, pad, pad, e.UserExplanation)
			if len(e.Steps) > 0 {
				b.WriteString(pad + "What you can do:\n")
				for _, s := range e.Steps {
					wrap(&b, pad+"- ", pad+"  ", s)
				}
			}
		}
		wrap(&b, pad, pad, "Reference for your IT support: "+f.ID)
	}
	if failed := failedProbes(doc); len(failed) > 0 {
		b.WriteString("\n")
		wrap(&b, "", "", "Some checks could not be run: "+strings.Join(failed, ", ")+".")
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("writing the findings: %w", err)
	}
	return nil
}

// failedProbes names the probes of doc that reported an error.
func failedProbes(doc *protocol.Document) []string {
	var out []string
	for _, p := range doc.Probes {
		if p.Error != "" && len(out) < maxPerAnalyzer {
			out = append(out, clip(p.Name))
		}
	}
	return out
}

// wrap writes text word by word, cleaned, in lines of at most checkWidth
// (a longer word has a line of its own): the first line after first, the
// others after indent.
func wrap(b *strings.Builder, first, indent, text string) {
	line := first
	empty := true
	for _, word := range strings.Fields(text) {
		word = render.Clean(word)
		if !empty && len(line)+1+len(word) > checkWidth {
			b.WriteString(line + "\n")
			line, empty = indent, true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	b.WriteString(line + "\n")
}
