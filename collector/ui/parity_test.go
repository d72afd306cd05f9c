package ui_test

import (
	"bytes"
	"context"
	"html"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/api/apitest"
	"github.com/sondehq/sonde/collector/cli"
)

// TestTicketShowMatchesPage: `sonde ticket show` and the UI's ticket page
// show the same evidence, state now, fix steps, bundles, similar tickets
// and timeline; the CLI keeps a note's line breaks and shows what could
// drive a terminal as escapes.
func TestTicketShowMatchesPage(t *testing.T) {
	e := newEnv(t)
	c := e.login(t, "l2")
	t.Setenv("SONDE_URL", e.api.URL)
	t.Setenv("SONDE_TOKEN", "sonde_test_l2")
	sonde := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := cli.Main(context.Background(), args, &out, &errb); code != 0 {
			t.Fatalf("sonde %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
		}
		return out.String()
	}
	t0 := time.Now().Add(-3 * time.Hour)
	apitest.PutCase(t, e.st, "a-old", "full-disk-failed-service", t0)
	sonde("ticket", "open", "--ref", "R-1", "--title", "disk full last month", "--agent", "a-old")
	sonde("bundle", "a-old", "--ticket", "R-1", "-o", t.TempDir()+"/r1.zip")
	sonde("ticket", "resolve", "R-1", "--note", "cleared the spool")

	apitest.PutCase(t, e.st, "a-disk", "full-disk-failed-service", t0.Add(time.Hour))
	sonde("ticket", "open", "--ref", "INC-9", "--title", "cannot print", "--agent", "a-disk")
	sonde("bundle", "a-disk", "--ticket", "INC-9", "-o", t.TempDir()+"/inc9.zip")
	apitest.PutCase(t, e.st, "a-disk", "busy-machine", t0.Add(2*time.Hour))
	sonde("ticket", "assign", "INC-9", "alice")
	sonde("ticket", "note", "INC-9", "line one\nline two \x1b[31mred")

	text := sonde("ticket", "show", "INC-9")
	_, page := e.get(t, c, "/tickets/INC-9")

	if strings.Contains(text, `\x0a`) || !strings.Contains(text, "      line one\n      line two \\x1b[31mred\n") {
		t.Errorf("the note is not shown line by line, escapes escaped:\n%s", text)
	}
	for _, part := range []struct {
		name         string
		cli          []string
		ui           []string
		wantNonEmpty bool
	}{
		{"evidence", cliIDs(section(text, "evidence (", "now (")), uiIDs(between(page, `id="evidence"`, `id="now"`)), true},
		{"now", cliIDs(section(text, "now (", "similar resolved")), uiIDs(between(page, `id="now"`, `id="similar"`)), true},
		{"steps", cliSteps(section(text, "evidence (", "similar resolved")), uiSteps(between(page, `id="evidence"`, `id="similar"`)), true},
		{"similar", cliFirst(section(text, "similar resolved", "bundles:")), uiAll(between(page, `id="similar"`, `</section>`), `href="/tickets/([^"]+)"`), true},
		{"bundles", cliFirst(section(text, "bundles:", "timeline:")), uiAll(between(page, `id="bundles"`, `</table>`), `<tr>\s*<td>(\d+)</td>`), true},
		{"timeline", cliTimeline(section(text, "timeline:", "")), uiAll(between(page, `id="timeline"`, `</table>`), `<td>[^<]*</td><td>([^<]*)</td><td>([^<]*)</td>`), true},
	} {
		if !slices.Equal(part.cli, part.ui) || (part.wantNonEmpty && len(part.cli) == 0) {
			t.Errorf("%s differs:\n CLI %q\n  UI %q", part.name, part.cli, part.ui)
		}
	}
	for _, want := range []string{"[gone now]", "[new since the evidence]", "shared: disk.almost-full on / (critical)", "l2-user assigned it to alice"} {
		if !strings.Contains(text, want) {
			t.Errorf("ticket show lacks %q:\n%s", want, text)
		}
	}
}

// section is the CLI text from the line starting with from up to the
// line starting with to (or the end).
func section(text, from, to string) string {
	i := strings.Index(text, "\n"+from)
	if i < 0 {
		return ""
	}
	rest := text[i+1:]
	if to != "" {
		if j := strings.Index(rest, "\n"+to); j >= 0 {
			return rest[:j]
		}
	}
	return rest
}

func between(page, from, to string) string {
	i := strings.Index(page, from)
	if i < 0 {
		return ""
	}
	rest := page[i:]
	if j := strings.Index(rest, to); j >= 0 {
		return rest[:j]
	}
	return rest
}

var (
	cliFindingRE = regexp.MustCompile(`(?m)^  (?:info|warning|critical)\s+(\S+)  `)
	cliStepRE    = regexp.MustCompile(`(?m)^\s+\d+\. (.*)$`)
	cliFirstRE   = regexp.MustCompile(`(?m)^  (\S+)  `)
	cliEventRE   = regexp.MustCompile(`(?m)^  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d  (\S+) (.*)$`)
)

func cliIDs(s string) []string   { return matches(s, cliFindingRE) }
func cliSteps(s string) []string { return matches(s, cliStepRE) }
func cliFirst(s string) []string { return matches(s, cliFirstRE) }
func cliTimeline(s string) []string {
	var out []string
	for _, m := range cliEventRE.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1]+" "+m[2])
	}
	return out
}

func uiIDs(s string) []string { return uiAll(s, `<p class="muted mono">([^<·]+?)(?: · [^<]*)?</p>`) }

// uiSteps are the steps' texts, with the UI's code spans written as the
// CLI writes them, in backticks.
func uiSteps(s string) []string {
	s = strings.NewReplacer("<code>", "`", "</code>", "`").Replace(s)
	return uiAll(s, `<li>([^<]*)</li>`)
}

// uiAll returns the unescaped submatches of re in page, joined by a space
// where re has several.
func uiAll(page, re string) []string {
	var out []string
	for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(page, -1) {
		out = append(out, html.UnescapeString(strings.Join(m[1:], " ")))
	}
	return out
}

func matches(s string, re *regexp.Regexp) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}
