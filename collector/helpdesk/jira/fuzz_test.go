package jira

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sondehq/sonde/collector/helpdesk"
	"github.com/sondehq/sonde/collector/helpdesk/helpdesktest"
)

// FuzzWebhook feeds Webhook any body, signed right (so that the event's
// decoding is what is tried) and not: a signed call gives an error or a
// usable key and state (helpdesktest.CheckHooked), an unsigned one or one
// signed otherwise is always ErrUnsigned.
func FuzzWebhook(f *testing.F) {
	const secret = "whsec-jira"
	c, err := New(helpdesk.Settings{Config: helpdesk.Config{URL: "https://x.atlassian.net", User: fakeUser, Queue: fakeProject}, Secret: fakeToken, WebhookSecret: secret})
	if err != nil {
		f.Fatal(err)
	}
	h := c.(helpdesk.Hooked)
	for _, body := range []string{
		`{"webhookEvent":"jira:issue_updated","issue":{"key":"OPS-3","fields":{"status":{"name":"Done","statusCategory":{"key":"done"}},"assignee":{"displayName":"Alice"}}}}`,
		`{"webhookEvent":"jira:issue_updated","issue":{"id":"10042","key":"OPS-12","fields":{"status":{"name":"Closed","statusCategory":{"key":"done"}},"assignee":null}}}`,
		`{"webhookEvent":"jira:issue_created","issue":{"key":"OPS-1","fields":{"status":{"name":"Waiting for support","statusCategory":{"key":"new"}}}}}`,
		`{"webhookEvent":"jira:issue_updated","issue":{"key":"OPS-7","fields":{"status":{"name":"In Progress","statusCategory":{"key":"indeterminate"}},"assignee":{"displayName":"Zoë \u001b[31mO'Brien"}}}}`,
		`{"webhookEvent":"jira:issue_updated","issue":{"key":"` + strings.Repeat("OPS", 100) + `-1","fields":{"status":{"name":"Done"},"assignee":{"displayName":"` + strings.Repeat("Alice ", 50) + `"}}}}`,
		`{"webhookEvent":"project_created"}`,
		`{"issue":{"key":"../admin","fields":{"status":{"name":"Done"}}}}`,
	} {
		f.Add([]byte(body), sign(secret, []byte(body)))
	}
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		key, st, err := h.Webhook(http.Header{"X-Hub-Signature": {sign(secret, body)}}, body)
		helpdesktest.CheckHooked(t, key, st, err)
		key, _, err = h.Webhook(http.Header{}, body)
		helpdesktest.CheckUnsigned(t, key, err)
		key, _, err = h.Webhook(http.Header{"X-Hub-Signature": {sign("other-secret", body)}}, body)
		helpdesktest.CheckUnsigned(t, key, err)
		if !strings.EqualFold(strings.TrimSpace(sig), sign(secret, body)) {
			key, _, err = h.Webhook(http.Header{"X-Hub-Signature": {sig}}, body)
			helpdesktest.CheckUnsigned(t, key, err)
		}
	})
}

// FuzzADF feeds plain, which reads the text of the comments Jira answers
// in ADF, any document, and summaryDoc any findings: plain never panics
// nor says more than 3 bytes per byte of the answer (an invalid byte
// decodes to a 3-byte U+FFFD), and a summary's document has only
// non-empty text nodes of valid UTF-8 (Jira refuses an empty one) and
// reads back through plain with its marker whole (what Has looks for).
func FuzzADF(f *testing.F) {
	f.Add([]byte(`{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"sonde:SND-7/bundle-4/comment"}]}]}`), "Sonde bundle 4 from host-7: 1 finding", "critical", "Disk / is 97% full <script>", "Free disk space", "Empty the bin")
	f.Add([]byte(`{"type":"doc","content":[{"type":"bulletList","content":[{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"\u00ff","marks":[{"type":"strong"}]},{"type":"hardBreak"}]}]}]}]}`), "", "", " ", "\t", "\xff")
	f.Fuzz(func(t *testing.T, answer []byte, headline, severity, title, fix, step string) {
		var n node
		if json.Unmarshal(answer, &n) == nil {
			if got := plain(n); len(got) > 3*len(answer) {
				t.Errorf("plain read %d bytes from an answer of %d", len(got), len(answer))
			}
		}
		const marker = "sonde:SND-7/bundle-4/comment"
		s := helpdesk.Summary{Marker: marker, Ref: "SND-7", Headline: headline, Link: "https://sonde.example/tickets/SND-7",
			Findings: []helpdesk.Finding{{Severity: severity, Title: title, Fix: fix, Steps: []string{step, title}}}}
		d := summaryDoc(s)
		var walk func(node)
		walk = func(n node) {
			if n.Type == "text" && (n.Text == "" || !utf8.ValidString(n.Text)) {
				t.Errorf("summaryDoc made the text node %q", n.Text)
			}
			for _, c := range n.Content {
				walk(c)
			}
		}
		walk(d)
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var back node
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plain(back), "\n"+marker+"\n") {
			t.Errorf("the marker does not read whole in %q", plain(back))
		}
	})
}
