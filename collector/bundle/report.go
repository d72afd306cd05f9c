package bundle

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/sondehq/sonde/collector/diff"
	"github.com/sondehq/sonde/internal/render"
	"github.com/sondehq/sonde/protocol"
)

//go:embed templates/report.html
var templates embed.FS

var reportHTML = template.Must(template.New("report.html").Funcs(template.FuncMap{
	"time":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"pretty": prettyJSON,
	"difftext": func(d *diff.Diff) string {
		var b strings.Builder
		d.Text(&b)
		return b.String()
	},
	"upper": strings.ToUpper,
}).ParseFS(templates, "templates/report.html"))

// report is what both renderings of the report show.
type report struct {
	M            *Manifest
	Handover     *Handover
	Snapshot     *protocol.Document
	History      []*protocol.Document
	Findings     []Ranked
	DiffPrevious *diff.Diff
	DiffHealthy  *diff.Diff
	PreviousID   int64
	HealthyID    int64
}

func prettyJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return "(unreadable)"
	}
	return b.String()
}

func (r *report) render() (html, text []byte, err error) {
	var h bytes.Buffer
	if err := reportHTML.Execute(&h, r); err != nil {
		return nil, nil, fmt.Errorf("bundle: report.html: %w", err)
	}
	var t bytes.Buffer
	m := r.M
	fmt.Fprintf(&t, "Sonde diagnostic bundle for ticket %s\n", render.Clean(m.Ticket))
	fmt.Fprintf(&t, "machine %s (%s), agent %s\n", render.Clean(m.Facts.Hostname), render.Clean(m.Facts.Platform+" "+m.Facts.PlatformVersion), m.AgentID)
	fmt.Fprintf(&t, "snapshot %d captured %s; bundle made %s\n", m.SnapshotID, m.CapturedAt.UTC().Format(time.RFC3339), m.Created.UTC().Format(time.RFC3339))
	if m.Note != "" {
		fmt.Fprintf(&t, "NOTE: %s\n", render.Clean(m.Note))
	}
	if r.Handover != nil {
		t.WriteString("\nHANDOVER\n")
		t.Write(timelineText(r.Handover))
	}
	fmt.Fprintf(&t, "\nFINDINGS (%d)\n", len(r.Findings))
	if len(r.Findings) == 0 {
		t.WriteString("  none\n")
	}
	for i, f := range r.Findings {
		fmt.Fprintf(&t, "%d. [%s] %s  (%s)\n", i+1, strings.ToUpper(f.Severity.String()), render.Clean(f.Title), f.ID)
		if f.KB != nil {
			for _, s := range f.KB.Steps {
				fmt.Fprintf(&t, "   - %s\n", render.Clean(s))
			}
		}
	}
	for _, d := range []struct {
		title string
		id    int64
		d     *diff.Diff
	}{{"SINCE THE PREVIOUS SNAPSHOT", r.PreviousID, r.DiffPrevious}, {"SINCE THE LAST HEALTHY SNAPSHOT", r.HealthyID, r.DiffHealthy}} {
		if d.d == nil {
			continue
		}
		fmt.Fprintf(&t, "\nCHANGES %s (%d)\n", d.title, d.id)
		d.d.Text(&t)
	}
	t.WriteString("\nSNAPSHOT\n")
	render.Document(&t, r.Snapshot)
	return h.Bytes(), t.Bytes(), nil
}

// timelineText is a ticket's timeline for people.
func timelineText(h *Handover) []byte {
	var b bytes.Buffer
	t := h.Ticket
	fmt.Fprintf(&b, "ticket %s: %s\nstatus %s, tier %s, assignee %s, opened by %s on %s\n\n", render.Clean(t.Ref), render.Clean(t.Title),
		t.Status, strings.ToUpper(t.Tier), render.Clean(t.Assignee), render.Clean(t.CreatedBy), t.CreatedAt.UTC().Format(time.RFC3339))
	for _, ev := range h.Events {
		line := fmt.Sprintf("%s  %-12s %s", ev.At.UTC().Format("2006-01-02 15:04"), render.Clean(ev.Actor), render.Clean(ev.What()))
		if ev.Text != "" && ev.Kind != "opened" {
			line += ": " + render.Clean(ev.Text)
		}
		b.WriteString(line + "\n")
	}
	if len(h.Evidence) > 0 {
		b.WriteString("\nevidence pinned to the ticket:\n")
	}
	for _, f := range h.Evidence {
		from := fmt.Sprintf("snapshot %d", f.SnapshotID)
		if f.BundleID != 0 {
			from = fmt.Sprintf("bundle %d, %s", f.BundleID, from)
		}
		fmt.Fprintf(&b, "  [%s] %s  (%s; %s, captured %s)\n", strings.ToUpper(f.Severity.String()), render.Clean(f.Title), f.ID,
			from, f.CapturedAt.UTC().Format("2006-01-02 15:04"))
	}
	return b.Bytes()
}
