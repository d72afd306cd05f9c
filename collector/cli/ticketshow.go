package cli

import (
	"cmp"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/internal/render"
)

// printTicket writes a ticket for people: what the UI's ticket page shows
// (machines, the evidence pinned to the ticket with its fix steps, the
// machines' state now, similar resolved tickets, bundles, the timeline),
// in the same order. Every string from the collector is made safe for a
// terminal; notes keep their line breaks.
func printTicket(w io.Writer, t *api.TicketView) {
	now := time.Now()
	fmt.Fprintf(w, "%s  %s\n", t.Ref, render.Clean(t.Title))
	fmt.Fprintf(w, "status %s, tier %s, assignee %s, opened by %s %s\n", human(t.Status), strings.ToUpper(t.Tier),
		dash(t.Assignee), render.Clean(t.CreatedBy), stamp(t.CreatedAt))
	if l := api.LinkLine(*t); l != "" {
		fmt.Fprintln(w, render.Clean(l))
	}
	hosts := map[string]string{}
	fmt.Fprintln(w, "\nmachines:")
	if len(t.Assets) == 0 {
		fmt.Fprintln(w, "  none (attach a bundle, or open the ticket with --agent)")
	}
	for _, a := range t.Assets {
		hosts[a.AgentID] = render.Clean(a.Facts.Hostname)
		fmt.Fprintf(w, "  %s (%s)  %s, last seen %s\n", dash(a.Facts.Hostname), a.AgentID,
			render.Clean(strings.TrimSpace(a.Facts.Platform+" "+a.Facts.PlatformVersion+" "+a.Facts.OS+"/"+a.Facts.Arch)), ago(a.LastSeen, now))
		if !a.Machine.FullSnapshot {
			fmt.Fprintf(w, "    no full snapshot yet — take one (sonde bundle %s --ticket %s)\n", a.AgentID, t.Ref)
		}
	}
	fmt.Fprintln(w, "\nevidence (the findings of this ticket's bundles and imports, as they were):")
	if len(t.Findings) == 0 {
		fmt.Fprintf(w, "  none yet — attach a bundle (sonde bundle AGENT --ticket %s)\n", t.Ref)
	}
	for _, f := range t.Findings {
		printFinding(w, f, hosts)
	}
	fmt.Fprintln(w, "\nnow (the machines' latest snapshots):")
	if len(t.Now) == 0 {
		fmt.Fprintln(w, "  nothing worth attention")
	}
	for _, f := range t.Now {
		printFinding(w, f, hosts)
	}
	if len(t.Similar) > 0 {
		fmt.Fprintln(w, "\nsimilar resolved tickets:")
	}
	for _, s := range t.Similar {
		fmt.Fprintf(w, "  %s  %s  (%s %s)\n    shared: %s\n", s.Ref, render.Clean(s.Title), human(s.Status), stamp(s.UpdatedAt),
			render.Clean(strings.Join(s.Why, "; ")))
	}
	fmt.Fprintln(w, "\nbundles:")
	if len(t.Bundles) == 0 {
		fmt.Fprintln(w, "  none yet")
	}
	for _, b := range t.Bundles {
		fmt.Fprintf(w, "  %d  %-8s %s by %s, agent %s, snapshot %d, %s, sha256 %s\n", b.ID, b.Kind,
			stamp(b.CreatedAt), render.Clean(b.CreatedBy), b.AgentID, b.SnapshotID, freshness(b.Fresh), b.SHA256)
	}
	if len(t.Deliveries) > 0 {
		fmt.Fprintf(w, "\nsent to helpdesk %s:\n", render.Clean(t.Helpdesk))
	}
	for _, d := range t.Deliveries {
		fmt.Fprintf(w, "  %s\n", render.Clean(api.DeliveryLine(d)))
	}
	fmt.Fprintln(w, "\ntimeline:")
	for _, ev := range t.Events {
		fmt.Fprintf(w, "  %s  %s %s\n", stamp(ev.At), render.Clean(ev.Actor), render.Clean(ev.What()))
		if ev.Text != "" && ev.Kind != "opened" {
			for _, l := range render.Lines(ev.Text) {
				fmt.Fprintf(w, "      %s\n", l)
			}
		}
	}
}

// printFinding writes one finding of a ticket with where it was seen and
// the knowledge base's steps.
func printFinding(w io.Writer, f api.AgentFinding, hosts map[string]string) {
	mark := map[string]string{api.ChangeGone: "  [gone now]", api.ChangeNew: "  [new since the evidence]"}[f.Change]
	fmt.Fprintf(w, "  %-8s %s  %s%s\n", f.Severity, f.ID, render.Clean(f.Title), mark)
	where := fmt.Sprintf("snapshot %d", f.SnapshotID)
	if f.BundleID != 0 {
		where = fmt.Sprintf("bundle %d, %s", f.BundleID, where)
	}
	fmt.Fprintf(w, "           on %s, %s, captured %s\n", cmp.Or(hosts[f.AgentID], f.AgentID), where, stamp(f.CapturedAt))
	if f.KB != nil {
		for i, step := range f.KB.Steps {
			fmt.Fprintf(w, "           %d. %s\n", i+1, render.Clean(step))
		}
		printL2Steps(w, f.KB.L2Steps)
	}
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}

func human(status string) string { return strings.ReplaceAll(status, "_", " ") }

func freshness(fresh bool) string {
	if fresh {
		return "fresh"
	}
	return "from a stored snapshot"
}

// printL2Steps prints the knowledge base's steps for L2 under a finding;
// the API sends them to L2 and above only.
func printL2Steps(w io.Writer, steps []string) {
	if len(steps) == 0 {
		return
	}
	fmt.Fprintln(w, "           For L2:")
	for i, step := range steps {
		fmt.Fprintf(w, "           %d. %s\n", i+1, render.Clean(step))
	}
}
