package ticket

import (
	"errors"
	"testing"
	"time"
)

func TestLink(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	tk := Ticket{Ref: "SND-1", Status: InProgress, Tier: L2}
	ev, err := Apply(&tk, Request{Action: ActLink, Helpdesk: "rt", External: "1234"}, "alice", now)
	if err != nil || tk.Helpdesk != "rt" || tk.External != "1234" || ev.What() != "linked it to rt:1234" {
		t.Fatalf("link: %+v, %q, %v", tk, ev.What(), err)
	}
	ev, err = Apply(&tk, Request{Action: ActLink, Helpdesk: "redmine", Queue: "it-support"}, "alice", now)
	if err != nil || tk.External != "" || tk.Queue != "it-support" || ev.What() != "asked for a ticket in redmine" || ev.From != "rt:1234" {
		t.Fatalf("ask to open: %+v, %q, %v", tk, ev.What(), err)
	}
	ev, err = Apply(&tk, Request{Action: ActLink}, "alice", now)
	if err != nil || tk.Helpdesk != "" || ev.What() != "unlinked it from redmine:" {
		t.Fatalf("unlink: %+v, %q, %v", tk, ev.What(), err)
	}
	for _, bad := range []Request{
		{Helpdesk: "r t", External: "1"},
		{Helpdesk: "rt", External: "12 34"},
		{Helpdesk: "rt", External: "12\x1b[2K"},
		{Helpdesk: "rt", Queue: "Gen\neral"},
		{External: "1234"},
		{Helpdesk: "a-very-long-connector-name-of-more-than-32"},
	} {
		bad.Action = ActLink
		before := tk
		if _, err := Apply(&tk, bad, "alice", now); !errors.Is(err, ErrInvalid) || tk.LinkName() != before.LinkName() || tk.Queue != before.Queue {
			t.Errorf("Apply(%+v) = %v, ticket %+v; want ErrInvalid and no change", bad, err, tk)
		}
	}
}
