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

// rtDesk is RT as the flow test reads it.
type rtDesk struct{ rt *RT }

func (d rtDesk) config() (string, map[string]string) {
	return rtConfig(d.rt.URL, ""), map[string]string{"SONDE_RT_TOKEN": d.rt.Token}
}

func (d rtDesk) queue() string { return "General" }

func (d rtDesk) link(key string) string { return d.rt.URL + "/Ticket/Display.html?id=" + key }

func (d rtDesk) subject(t *testing.T, key string) string {
	var tk struct {
		Subject string `json:"Subject"`
	}
	if err := d.rt.REST(t.Context(), "GET", "/ticket/"+key, nil, &tk); err != nil {
		t.Fatal(err)
	}
	return tk.Subject
}

func (d rtDesk) files(t *testing.T, key, name string) []string {
	files, err := d.rt.Attachments(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	var sums []string
	for _, f := range files {
		if f.Filename == name {
			sums = append(sums, f.SHA256)
		}
	}
	return sums
}

func (d rtDesk) texts(t *testing.T, key string) []string { return rtTexts(t.Context(), t, d.rt, key) }

func (d rtDesk) resolve(t *testing.T, key string) string {
	if err := d.rt.SetTicket(t.Context(), key, map[string]string{"Status": "resolved", "Owner": "root"}); err != nil {
		t.Fatal(err)
	}
	return "root"
}

func (d rtDesk) secret() string { return d.rt.Token }

// TestRTFlow runs the engineer's path (see flow) against a real Request
// Tracker 5.
func TestRTFlow(t *testing.T) { flow(t, "rt", rtDesk{StartRT(t)}) }

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
