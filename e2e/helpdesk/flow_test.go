//go:build helpdesk

package helpdesk

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/e2e/harness"
)

// desk is a real helpdesk as the flow test reads it, through its own API.
type desk interface {
	config() (yaml string, secrets map[string]string) // its connector, named after its kind
	queue() string                                    // where tickets open
	link(key string) string                           // the ticket's page
	subject(t *testing.T, key string) string
	files(t *testing.T, key, name string) []string // SHA-256 of each file named name
	texts(t *testing.T, key string) []string       // comments and notes
	resolve(t *testing.T, key string) string       // resolve and assign; returns the assignee's name
	secret() string
}

// flow is the path an L2 engineer takes: a ticket opened in the helpdesk
// for a Sonde ticket (sonde ticket link --open), its bundle's findings as
// a comment with a link back, and its file as an attachment, read back
// through the helpdesk's API by SHA-256; resolved and assigned there,
// resolved and assigned in Sonde.
func flow(t *testing.T, name string, d desk) {
	yaml, secrets := d.config()
	s := startSonde(t, yaml, secrets)
	out := s.cli(t, "ticket", "open", "--title", "Outlook crashes at start", "--agent", s.agentID)
	ref := regexp.MustCompile(`SND-\d+`).FindString(out)
	if ref == "" {
		t.Fatalf("ticket open printed %q", out)
	}
	out = s.cli(t, "ticket", "link", ref, "--open", "--queue", d.queue())
	if !strings.Contains(out, "helpdesk "+name+": to be opened there (queue "+d.queue()+")") {
		t.Errorf("ticket link --open printed %q", out)
	}
	s.cli(t, "bundle", s.agentID, "--ticket", ref, "-o", t.TempDir()+"/b.zip")
	v := s.delivered(t, ref, 3, time.Minute)
	key, b := v.External, v.Bundles[0]
	t.Logf("%s is %s ticket %s (%s)", ref, name, key, v.ExternalURL)
	if v.ExternalURL != d.link(key) {
		t.Errorf("the ticket's external URL is %q; want %q", v.ExternalURL, d.link(key))
	}
	if got := d.subject(t, key); got != "Outlook crashes at start [sonde:"+ref+"]" {
		t.Errorf("the helpdesk's subject: %q", got)
	}
	file := fmt.Sprintf("sonde-%s-bundle-%d.zip", ref, b.ID)
	if sums := d.files(t, key, file); len(sums) != 1 || sums[0] != b.SHA256 {
		t.Errorf("%s on the helpdesk's ticket: SHA-256 %q; want once, %s", file, sums, b.SHA256)
	}
	texts := d.texts(t, key)
	marker := fmt.Sprintf("sonde:%s/bundle-%d/comment", ref, b.ID)
	back := "http://" + s.c.HTTP + "/tickets/" + ref
	if count(texts, marker) != 1 || count(texts, back) == 0 {
		t.Errorf("the helpdesk's comments: %d carry %s, %d link back to %s; texts: %q", count(texts, marker), marker, count(texts, back), back, texts)
	}
	for _, f := range v.Findings {
		if count(texts, f.Title) == 0 && !strings.ContainsAny(f.Title, "<>&'\"*_%") {
			t.Errorf("finding %q is not in the helpdesk's comment", f.Title)
		}
	}
	show := s.cli(t, "ticket", "show", ref)
	if !strings.Contains(show, "helpdesk "+name+": "+key+" "+v.ExternalURL) || !strings.Contains(show, fmt.Sprintf("file of bundle %d: sent", b.ID)) {
		t.Errorf("ticket show does not show the link or what was sent:\n%s", show)
	}
	if same := s.cli(t, "ticket", "show", name+":"+key); !strings.HasPrefix(same, ref+" ") {
		t.Errorf("ticket show %s:%s printed %q", name, key, same)
	}

	who := d.resolve(t, key)
	harness.WaitFor(t, ref+" resolved in Sonde", 30*time.Second, func() bool { return s.ticket(t, ref).Status == "resolved" })
	v = s.ticket(t, ref)
	if v.Assignee != who {
		t.Errorf("assignee in Sonde: %q; want %q", v.Assignee, who)
	}
	if last := v.Events[len(v.Events)-1]; last.Actor != "helpdesk:"+name || last.Kind != "resolve" {
		t.Errorf("the timeline's last event: %+v", last)
	}
	m, err := harness.Scrape("http://" + s.c.HTTP + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Sum("sonde_helpdesk_deliveries", `helpdesk="`+name+`"`, `state="sent"`); got != 3 {
		t.Errorf("sonde_helpdesk_deliveries{helpdesk=%s,state=sent} = %v; want 3", name, got)
	}
	if strings.Contains(s.c.Proc.Output(), d.secret()) {
		t.Errorf("the collector's log carries %s's credential", name)
	}
}
