package helpdesk

import (
	"fmt"
	"html"
	"strings"

	"github.com/sondehq/sonde/internal/safetext"
)

// Summary is what a comment says: the findings of a bundle, ranked, with
// their fixes and links back to Sonde. Every string in it may come from an
// agent: each renderer escapes for its markup.
type Summary struct {
	Marker   string
	Ref      string // the Sonde ticket
	Headline string // e.g. "Sonde bundle 4 (snapshot 12) from host-7: 2 findings"
	Link     string // the Sonde ticket's page; "" when the collector has no public address
	Findings []Finding
}

// Finding is one finding as a comment shows it.
type Finding struct {
	Severity string // critical, warning or info
	Title    string
	Fix      string // the knowledge-base entry's title, "" when none
	Steps    []string
}

// Bounds on a comment: MaxFindings findings (the rest are counted), each
// with at most MaxSteps steps, and MaxLine bytes to a string.
const (
	MaxFindings = 20
	MaxSteps    = 10
	MaxLine     = 500
)

// shown is the findings a comment shows, each string made one clean line
// of at most MaxLine bytes (an agent may have put anything in a title),
// and how many are left out.
func (s Summary) shown() ([]Finding, int) {
	fs, more := s.Findings, 0
	if len(fs) > MaxFindings {
		fs, more = fs[:MaxFindings], len(fs)-MaxFindings
	}
	out := make([]Finding, len(fs))
	for i, f := range fs {
		out[i] = Finding{Severity: safetext.Clean(f.Severity, 20), Title: safetext.Clean(f.Title, MaxLine), Fix: safetext.Clean(f.Fix, MaxLine)}
		for j, st := range f.Steps {
			if j == MaxSteps {
				break
			}
			out[i].Steps = append(out[i].Steps, safetext.Clean(st, MaxLine))
		}
	}
	return out, more
}

// Text renders s as plain text.
func (s Summary) Text() string {
	var b strings.Builder
	b.WriteString(s.Headline + "\n")
	fs, more := s.shown()
	if len(fs) == 0 {
		b.WriteString("\nNo findings: the machine looked healthy.\n")
	}
	for _, f := range fs {
		fmt.Fprintf(&b, "\n[%s] %s\n", strings.ToUpper(f.Severity), f.Title)
		if f.Fix != "" {
			b.WriteString("  Fix: " + f.Fix + "\n")
		}
		for _, st := range f.Steps {
			b.WriteString("  - " + st + "\n")
		}
	}
	if more > 0 {
		fmt.Fprintf(&b, "\n… and %d more in the bundle.\n", more)
	}
	if s.Link != "" {
		b.WriteString("\nIn Sonde: " + s.Link + "\n")
	}
	b.WriteString("\n" + s.Marker + "\n")
	return b.String()
}

// HTML renders s as an HTML fragment (RT, Zendesk, Zammad, GLPI).
func (s Summary) HTML() string {
	e := html.EscapeString
	var b strings.Builder
	b.WriteString("<p><strong>" + e(s.Headline) + "</strong></p>\n")
	fs, more := s.shown()
	if len(fs) == 0 {
		b.WriteString("<p>No findings: the machine looked healthy.</p>\n")
	} else {
		b.WriteString("<ul>\n")
		for _, f := range fs {
			b.WriteString("<li><strong>" + e(strings.ToUpper(f.Severity)) + "</strong> " + e(f.Title))
			if f.Fix != "" {
				b.WriteString("<br>Fix: " + e(f.Fix))
			}
			if len(f.Steps) > 0 {
				b.WriteString("<ol>")
				for _, st := range f.Steps {
					b.WriteString("<li>" + e(st) + "</li>")
				}
				b.WriteString("</ol>")
			}
			b.WriteString("</li>\n")
		}
		b.WriteString("</ul>\n")
	}
	if more > 0 {
		fmt.Fprintf(&b, "<p>… and %d more in the bundle.</p>\n", more)
	}
	if s.Link != "" {
		b.WriteString(`<p><a href="` + e(s.Link) + `">Open ` + e(s.Ref) + " in Sonde</a></p>\n")
	}
	b.WriteString("<p><small>" + e(s.Marker) + "</small></p>\n")
	return b.String()
}

// markdownEscaper escapes what Markdown (and Redmine's CommonMark) would
// read as markup.
var markdownEscaper = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`, "<", "&lt;", ">", "&gt;", "#", `\#`, "|", `\|`, "!", `\!`)

// Markdown renders s as CommonMark (Redmine's markdown formatter, Jira
// wiki-less connectors).
func (s Summary) Markdown() string {
	e := func(t string) string { return markdownEscaper.Replace(oneLine(t)) }
	var b strings.Builder
	b.WriteString("**" + e(s.Headline) + "**\n")
	fs, more := s.shown()
	if len(fs) == 0 {
		b.WriteString("\nNo findings: the machine looked healthy.\n")
	}
	for _, f := range fs {
		b.WriteString("\n* **" + e(strings.ToUpper(f.Severity)) + "** " + e(f.Title) + "\n")
		if f.Fix != "" {
			b.WriteString("  Fix: " + e(f.Fix) + "\n")
		}
		for i, st := range f.Steps {
			fmt.Fprintf(&b, "  %d. %s\n", i+1, e(st))
		}
	}
	if more > 0 {
		fmt.Fprintf(&b, "\n… and %d more in the bundle.\n", more)
	}
	if s.Link != "" {
		b.WriteString("\n[Open " + e(s.Ref) + " in Sonde](<" + linkTarget(s.Link) + ">)\n")
	}
	b.WriteString("\n" + e(s.Marker) + "\n")
	return b.String()
}

// textileEscaper writes as numeric character references what Redmine's
// Textile, or its wiki links (#1, [[page]], commit:abc), would read as
// markup. Tried on Redmine 5.0: "==text==" is not kept verbatim there
// (its HTML comes out escaped twice, and it is not read inside *bold*),
// and "<notextile>" ends at the first "</notextile>" in the agent's text.
// '%' (a plain <span> at worst) stays, so "97% full" reads as it is.
var textileEscaper = func() *strings.Replacer {
	var pairs []string
	for _, c := range `&<>*_+-^~@=[]{}()|!"'#:?` {
		pairs = append(pairs, string(c), fmt.Sprintf("&#%d;", c))
	}
	return strings.NewReplacer(pairs...)
}()

// Textile renders s as Textile (Redmine's default formatter).
func (s Summary) Textile() string {
	e := func(t string) string { return textileEscaper.Replace(oneLine(t)) }
	var b strings.Builder
	b.WriteString("*" + e(s.Headline) + "*\n")
	fs, more := s.shown()
	if len(fs) == 0 {
		b.WriteString("\nNo findings: the machine looked healthy.\n")
	} else {
		b.WriteString("\n")
	}
	for _, f := range fs {
		b.WriteString("* *" + e(strings.ToUpper(f.Severity)) + "* " + e(f.Title) + "\n")
		if f.Fix != "" {
			b.WriteString("** Fix: " + e(f.Fix) + "\n")
		}
		for _, st := range f.Steps {
			b.WriteString("** " + e(st) + "\n")
		}
	}
	if more > 0 {
		fmt.Fprintf(&b, "\n… and %d more in the bundle.\n", more)
	}
	if s.Link != "" {
		b.WriteString("\n\"Open " + e(s.Ref) + " in Sonde\":" + linkTarget(s.Link) + "\n")
	}
	// The marker as it is, for Has to find in the note's text.
	b.WriteString("\n<notextile>" + s.Marker + "</notextile>\n")
	return b.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// linkTarget is s as a link's address in Markdown or Textile: the bytes a
// URL needs kept as they are, every other one (a space, a quote, a
// bracket, a line break, a byte of non-ASCII) percent-encoded, so that
// the address cannot end the link early nor carry markup after it.
func linkTarget(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~:/?#@$&+,;=%", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
