package diff

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sondehq/sonde/internal/render"
)

// maxTextLen bounds each untrusted string Text writes, in bytes.
const maxTextLen = 256

// Text writes the diff for people: which snapshots, then each section's
// changes, one a line ("+" added, "-" removed, "~" changed), and its
// notes. Untrusted strings are cut short and their control characters
// shown escaped.
func (d *Diff) Text(w io.Writer) error {
	var b strings.Builder
	if d.From.AgentID != "" && d.From.AgentID == d.To.AgentID {
		fmt.Fprintf(&b, "agent %s\n", clean(d.From.AgentID))
	}
	fmt.Fprintf(&b, "from %s\nto   %s\n", snapshotText(&d.From), snapshotText(&d.To))
	for _, n := range d.Notes {
		fmt.Fprintf(&b, "note: %s\n", clean(n))
	}
	if d.Empty() {
		b.WriteString("no changes\n")
	}
	for i := range d.Sections {
		s := &d.Sections[i]
		fmt.Fprintf(&b, "\n%s\n", clean(s.Name))
		for j := range s.Changes {
			c := &s.Changes[j]
			line := changeText(c)
			if c.Explains != "" {
				line = strings.TrimSuffix(line, "\n") + "   ← may explain " + clean(c.Explains) + "\n"
			}
			b.WriteString(line)
		}
		if s.LeftOff > 0 {
			fmt.Fprintf(&b, "  ... and %d more changes\n", s.LeftOff)
		}
		for _, n := range s.Notes {
			fmt.Fprintf(&b, "  note: %s\n", clean(n))
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("writing the diff: %w", err)
	}
	return nil
}

func changeText(c *Change) string {
	subject := clean(c.Subject)
	switch c.Kind {
	case Added:
		return "  + " + withValue(subject, c.After)
	case Removed:
		return "  - " + withValue(subject, c.Before)
	case Changed:
		line := fmt.Sprintf("  ~ %s: %s → %s", subject, clean(c.Before), clean(c.After))
		switch {
		case c.Delta != nil:
			line += fmt.Sprintf(" (%+.1f pp)", *c.Delta)
		case c.Trend != "":
			line += " (" + clean(c.Trend) + ")"
		}
		return line + "\n"
	}
	return fmt.Sprintf("  ? %s: %s → %s\n", subject, clean(c.Before), clean(c.After))
}

func withValue(subject, value string) string {
	if value == "" {
		return subject + "\n"
	}
	return subject + ": " + clean(value) + "\n"
}

func snapshotText(s *Snapshot) string {
	at := "unknown time"
	if !s.CapturedAt.IsZero() {
		at = s.CapturedAt.UTC().Format(time.RFC3339)
	}
	if s.Kind == "" {
		return at
	}
	return at + " (" + clean(s.Kind) + ")"
}

// clean makes an untrusted string fit for a terminal line.
func clean(s string) string { return render.Clean(clip(s, maxTextLen)) }
