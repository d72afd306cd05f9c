//go:build helpdesk

package helpdesk

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/e2e/harness"
)

func rtConfig(u string, extra string) string {
	return fmt.Sprintf("connectors:\n  - name: rt\n    kind: rt\n    url: %s\n    queue: General\n    secret: {env: SONDE_RT_TOKEN}\n    poll: 1s\n%s", u, extra)
}

// rtTexts reads the text of every comment and message on an RT ticket.
func rtTexts(ctx context.Context, t *testing.T, rt *RT, key string) []string {
	t.Helper()
	var list struct {
		Items []struct {
			ID       string `json:"id"`
			Filename string `json:"Filename"`
			Type     string `json:"ContentType"`
		} `json:"items"`
	}
	q := url.Values{"fields": {"Filename,ContentType"}, "per_page": {"100"}}
	if err := rt.REST(ctx, "GET", "/ticket/"+key+"/attachments?"+q.Encode(), nil, &list); err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, it := range list.Items {
		if it.Filename != "" || !strings.HasPrefix(it.Type, "text/") {
			continue
		}
		var a struct {
			Content string `json:"Content"`
		}
		if err := rt.REST(ctx, "GET", "/attachment/"+it.ID, nil, &a); err != nil {
			t.Fatal(err)
		}
		b, err := base64.StdEncoding.DecodeString(a.Content)
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, string(b))
	}
	return texts
}

// rtTickets counts the RT tickets whose subject carries marker.
func rtTickets(ctx context.Context, t *testing.T, rt *RT, marker string) int {
	t.Helper()
	var found struct {
		Total int `json:"total"`
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	q := url.Values{"query": {"Subject LIKE '" + marker + "'"}, "fields": {"Subject"}}
	if err := rt.REST(ctx, "GET", "/tickets?"+q.Encode(), nil, &found); err != nil {
		t.Fatal(err)
	}
	return len(found.Items)
}

// TestRTFlow is the path an L2 engineer takes: a ticket opened in RT for
// a Sonde ticket, its bundle's findings as a comment and its file as an
// attachment, read back through REST2 by SHA-256; resolved in RT, resolved
// in Sonde.
func TestRTFlow(t *testing.T) {
	rt := StartRT(t)
	s := startSonde(t, rtConfig(rt.URL, ""), map[string]string{"SONDE_RT_TOKEN": rt.Token})
	ctx := t.Context()

	out := s.cli(t, "ticket", "open", "--title", "Outlook crashes at start", "--agent", s.agentID)
	ref := regexp.MustCompile(`SND-\d+`).FindString(out)
	if ref == "" {
		t.Fatalf("ticket open printed %q", out)
	}
	out = s.cli(t, "ticket", "link", ref, "--open", "--queue", "General")
	if !strings.Contains(out, "helpdesk rt: to be opened there (queue General)") {
		t.Errorf("ticket link --open printed %q", out)
	}
	s.cli(t, "bundle", s.agentID, "--ticket", ref, "-o", t.TempDir()+"/b.zip")
	v := s.delivered(t, ref, 3, time.Minute)
	key, b := v.External, v.Bundles[0]
	t.Logf("%s is RT ticket %s (%s); deliveries: %v", ref, key, v.ExternalURL, v.Deliveries)
	if v.ExternalURL != rt.URL+"/Ticket/Display.html?id="+key {
		t.Errorf("the ticket's external URL is %q", v.ExternalURL)
	}
	var rtTicket struct {
		Subject string `json:"Subject"`
		Queue   struct {
			ID string `json:"id"`
		} `json:"Queue"`
	}
	if err := rt.REST(ctx, "GET", "/ticket/"+key, nil, &rtTicket); err != nil {
		t.Fatal(err)
	}
	if rtTicket.Subject != "Outlook crashes at start [sonde:"+ref+"]" {
		t.Errorf("RT's subject: %q", rtTicket.Subject)
	}

	files, err := rt.Attachments(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("sonde-%s-bundle-%d.zip", ref, b.ID)
	n := 0
	for _, f := range files {
		if f.Filename == name {
			n++
			if f.SHA256 != b.SHA256 || f.Size != b.Size {
				t.Errorf("RT gives back %s with SHA-256 %s (%d bytes); Sonde stored %s (%d bytes)", name, f.SHA256, f.Size, b.SHA256, b.Size)
			}
		}
	}
	if n != 1 {
		t.Errorf("%s is on RT ticket %s %d times; want once (files: %+v)", name, key, n, files)
	}
	texts := rtTexts(ctx, t, rt, key)
	marker := fmt.Sprintf("sonde:%s/bundle-%d/comment", ref, b.ID)
	if count(texts, marker) != 1 || count(texts, "http://"+s.c.HTTP+"/tickets/"+ref) == 0 {
		t.Errorf("RT's comments: %d carry %s, %d link back to Sonde; texts: %q", count(texts, marker), marker, count(texts, "/tickets/"+ref), texts)
	}
	for _, f := range v.Findings {
		if count(texts, f.Title) == 0 && !strings.ContainsAny(f.Title, "<>&'\"") {
			t.Errorf("finding %q is not in RT's comment", f.Title)
		}
	}
	show := s.cli(t, "ticket", "show", ref)
	if !strings.Contains(show, "helpdesk rt: "+key+" "+v.ExternalURL) || !strings.Contains(show, fmt.Sprintf("file of bundle %d: sent", b.ID)) {
		t.Errorf("ticket show does not show the link or what was sent:\n%s", show)
	}
	if same := s.cli(t, "ticket", "show", "rt:"+key); !strings.HasPrefix(same, ref+" ") {
		t.Errorf("ticket show rt:%s printed %q", key, same)
	}

	if err := rt.SetTicket(ctx, key, map[string]string{"Status": "resolved"}); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, ref+" resolved in Sonde", 30*time.Second, func() bool { return s.ticket(t, ref).Status == "resolved" })
	evs := s.ticket(t, ref).Events
	if last := evs[len(evs)-1]; last.Actor != "helpdesk:rt" || last.Kind != "resolve" {
		t.Errorf("the timeline's last event: %+v", last)
	}
	m, err := harness.Scrape("http://" + s.c.HTTP + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Sum("sonde_helpdesk_deliveries", `helpdesk="rt"`, `state="sent"`); got != 3 {
		t.Errorf("sonde_helpdesk_deliveries{helpdesk=rt,state=sent} = %v; want 3", got)
	}
	if strings.Contains(s.c.Proc.Output(), rt.Token) {
		t.Error("the collector's log carries RT's token")
	}
}

// TestRTFaults: RT answers 500, then times out (with and without having
// done the work), and the collector is killed and restarted in between;
// afterwards RT has one ticket, and each bundle's comment and file are on
// it exactly once.
func TestRTFaults(t *testing.T) {
	rt := StartRT(t)
	proxy := newFaultProxy(t, rt.URL, strings.Fields("fail fail hang lose lose fail lose ok lose")...)
	restart := make(chan struct{}, 1)
	lost := 0
	proxy.onPlay = func(step string) {
		if step == "lose" {
			if lost++; lost == 1 {
				restart <- struct{}{}
			}
		}
	}
	s := startSonde(t, rtConfig(proxy.URL, "    timeout: 3s\n"), map[string]string{"SONDE_RT_TOKEN": rt.Token}, "--helpdesk-retry", "500ms")
	ctx := t.Context()
	out := s.cli(t, "ticket", "open", "--title", "Printer offline", "--agent", s.agentID)
	ref := regexp.MustCompile(`SND-\d+`).FindString(out)
	for range 2 {
		s.cli(t, "bundle", s.agentID, "--ticket", ref, "-o", t.TempDir()+"/b.zip")
	}
	s.cli(t, "ticket", "link", ref, "--open")
	select {
	case <-restart:
	case <-time.After(time.Minute):
		left, played := proxy.left()
		t.Fatalf("the collector never reached the lost open; played %q, left %q", played, left)
	}
	time.Sleep(time.Second) // the open is in RT now; its answer is not
	s.c.Proc.Kill()
	t.Log("collector killed (SIGKILL) while RT's answer to the open was held back")
	s.c.Start(t)

	v := s.delivered(t, ref, 5, 2*time.Minute)
	left, played := proxy.left()
	t.Logf("writes as the proxy played them: %q", played)
	if len(left) != 0 {
		t.Errorf("the script was not played to its end: %q left", left)
	}
	if n := rtTickets(ctx, t, rt, "[sonde:"+ref+"]"); n != 1 {
		t.Errorf("RT has %d tickets for %s; want 1", n, ref)
	}
	files, err := rt.Attachments(ctx, v.External)
	if err != nil {
		t.Fatal(err)
	}
	texts := rtTexts(ctx, t, rt, v.External)
	for _, b := range v.Bundles {
		name := fmt.Sprintf("sonde-%s-bundle-%d.zip", ref, b.ID)
		n := 0
		for _, f := range files {
			if f.Filename == name && f.SHA256 == b.SHA256 {
				n++
			}
		}
		marker := fmt.Sprintf("sonde:%s/bundle-%d/comment", ref, b.ID)
		if n != 1 || count(texts, marker) != 1 {
			t.Errorf("bundle %d: its file is on RT ticket %s %d times, its comment %d times; want once each", b.ID, v.External, n, count(texts, marker))
		}
	}
}
