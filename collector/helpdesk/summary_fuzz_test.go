package helpdesk_test

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sondehq/sonde/collector/helpdesk"
	"github.com/sondehq/sonde/internal/safetext"
)

// FuzzSummary renders summaries whose every string (but the marker, which
// the collector makes) is fuzzed, n findings of them, and compares each
// rendering with the one of the same summary whose strings are all "x":
// the agent's text may change what a comment says, never its markup. In
// HTML no '<' or '"' of its own; in Markdown no unescaped "](", no '<',
// no line of its own; in Textile no '<', '"' or line of its own, and the
// marker whole. Every rendering is valid UTF-8 when the strings are, and
// bounded by what MaxFindings shows of them.
func FuzzSummary(f *testing.F) {
	f.Add("Sonde bundle 4 (snapshot 12) from host-7: 2 findings", "SND-7", "https://sonde.example/tickets/SND-7", "critical", "Disk / is 97% full <script>", "Free disk space", "Empty the bin", uint8(2))
	f.Add("host *bold* _it_ `code` [x](javascript:alert(1)) <img src=x> # | !", "SND-7", "https://sonde.example/tickets/SND-7", "warning", "a](b) <b>\n# heading\n\n* item", "==notextile== <notextile>x</notextile>", `"link":http://evil "q" 'q' &amp;`, uint8(1))
	f.Add("", "", "", "", "", "", "", uint8(0))
	f.Add("h", "SND-7", "https://a.example/x\n[evil](https://evil.example) <script>\"", "info", "t", "", "s", uint8(25))
	f.Add("h\xff", "SND-7", "https://a.example/x y\\", "\xc3", "\u2028line\u0085sep\r", "fix", "step\x00", uint8(3))
	f.Fuzz(func(t *testing.T, headline, ref, link, severity, title, fix, step string, n uint8) {
		n %= helpdesk.MaxFindings + 6
		const marker = "sonde:SND-7/bundle-4/comment"
		s := summary(marker, headline, ref, link, severity, title, fix, step, int(n))
		x := func(s string) string {
			if s == "" {
				return ""
			}
			return "x"
		}
		// A finding's strings are cleaned to one line first: one that is
		// nothing but space or control characters is left out.
		xf := func(s string) string { return x(safetext.Clean(s, helpdesk.MaxLine)) }
		plain := summary(marker, x(headline), x(ref), x(link), xf(severity), xf(title), xf(fix), xf(step), int(n))

		outs := map[string][2]string{"Text": {s.Text(), plain.Text()}, "HTML": {s.HTML(), plain.HTML()},
			"Markdown": {s.Markdown(), plain.Markdown()}, "Textile": {s.Textile(), plain.Textile()}}
		same := func(format, what string, count func(string) int) {
			if got, want := count(outs[format][0]), count(outs[format][1]); got != want {
				t.Errorf("%s has %d %s where the template has %d:\n%s", format, got, what, want, outs[format][0])
			}
		}
		counter := func(sub string) func(string) int { return func(s string) int { return strings.Count(s, sub) } }
		same("HTML", `"<"`, counter("<"))
		same("HTML", `'"'`, counter(`"`))
		same("Markdown", `unescaped "]("`, unescaped("]("))
		same("Markdown", `"<"`, counter("<"))
		same("Markdown", "lines", counter("\n"))
		same("Markdown", `"\r"`, counter("\r"))
		same("Textile", `"<"`, counter("<"))
		same("Textile", `'"'`, counter(`"`))
		same("Textile", "lines", counter("\n"))
		same("Textile", `"\r"`, counter("\r"))
		if !strings.Contains(outs["Textile"][0], "<notextile>"+marker+"</notextile>") {
			t.Errorf("Textile lost the marker:\n%s", outs["Textile"][0])
		}

		// Each string on its own: two invalid halves can make a valid whole.
		valid := true
		for _, s := range []string{headline, ref, link, severity, title, fix, step} {
			valid = valid && utf8.ValidString(s)
		}
		shown := min(int(n), helpdesk.MaxFindings)
		in := len(headline) + len(ref) + len(link) + len(marker) + shown*(len(severity)+len(title)+len(fix)+2*len(step)+len(title))
		limit := 1024 + shown*256 + 8*in
		for format, o := range outs {
			out := o[0]
			if valid && !utf8.ValidString(out) {
				t.Errorf("%s of valid UTF-8 is not:\n%q", format, out)
			}
			if len(out) > limit {
				t.Errorf("%s is %d bytes, over %d for what it shows", format, len(out), limit)
			}
			if more := int(n) - helpdesk.MaxFindings; more > 0 && !strings.Contains(out, fmt.Sprintf("and %d more", more)) {
				t.Errorf("%s does not count the %d findings it leaves out", format, more)
			}
		}
	})
}

// summary is a Summary of n findings made of the strings given.
func summary(marker, headline, ref, link, severity, title, fix, step string, n int) helpdesk.Summary {
	s := helpdesk.Summary{Marker: marker, Ref: ref, Headline: headline, Link: link}
	for range n {
		s.Findings = append(s.Findings, helpdesk.Finding{Severity: severity, Title: title, Fix: fix, Steps: []string{step, title}})
	}
	return s
}

// unescaped counts sub in s where its first byte is not escaped by a
// backslash (an odd number of them before it).
func unescaped(sub string) func(string) int {
	return func(s string) int {
		n := 0
		for i := 0; ; {
			j := strings.Index(s[i:], sub)
			if j < 0 {
				return n
			}
			at := i + j
			bs := 0
			for k := at - 1; k >= 0 && s[k] == '\\'; k-- {
				bs++
			}
			if bs%2 == 0 {
				n++
			}
			i = at + 1
		}
	}
}
