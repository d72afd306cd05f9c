package helpdesk_test

import (
	"strings"
	"testing"

	"github.com/sondehq/sonde/collector/helpdesk"
)

// TestSummaryLinkStaysOneLink: a link with a line break, quotes or angle
// brackets in it stays one link in Markdown and Textile, its bytes
// percent-encoded, and an ordinary link is left as it is.
func TestSummaryLinkStaysOneLink(t *testing.T) {
	s := helpdesk.Summary{Marker: "sonde:SND-7", Ref: "SND-7", Headline: "h",
		Link: "https://a.example/t x\n[evil](https://evil.example) <script>\"\\"}
	const target = "https://a.example/t%20x%0A%5Bevil%5D%28https://evil.example%29%20%3Cscript%3E%22%5C"
	if md := s.Markdown(); !strings.Contains(md, "\n[Open SND-7 in Sonde](<"+target+">)\n") {
		t.Errorf("Markdown:\n%s", md)
	}
	if tx := s.Textile(); !strings.Contains(tx, "\n\"Open SND&#45;7 in Sonde\":"+target+"\n") {
		t.Errorf("Textile:\n%s", tx)
	}
	s.Link = "https://sonde.example:8443/tickets/SND-7?a=b&c=d#top"
	if md := s.Markdown(); !strings.Contains(md, "](<"+s.Link+">)") {
		t.Errorf("Markdown changed an ordinary link:\n%s", md)
	}
}

// TestSummaryBounded: an agent's huge title, a fix with control
// characters and a long list of steps make a comment of bounded size.
func TestSummaryBounded(t *testing.T) {
	steps := make([]string, 50)
	for i := range steps {
		steps[i] = "step"
	}
	s := helpdesk.Summary{Marker: "m", Headline: "h", Findings: []helpdesk.Finding{{Severity: "critical", Title: strings.Repeat("x", 1<<20), Fix: "free\x1b[2Kspace", Steps: steps}}}
	for name, out := range map[string]string{"text": s.Text(), "html": s.HTML(), "markdown": s.Markdown(), "textile": s.Textile()} {
		if len(out) > 4*helpdesk.MaxLine+helpdesk.MaxSteps*100 {
			t.Errorf("%s: %d bytes", name, len(out))
		}
		if strings.Contains(out, "\x1b") || strings.Count(out, "step") != helpdesk.MaxSteps {
			t.Errorf("%s: control characters or %d steps:\n%.300s", name, strings.Count(out, "step"), out)
		}
	}
}
