package courier

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sondehq/sonde/collector/bundle"
	"github.com/sondehq/sonde/collector/helpdesk"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/ticket"
)

// open opens the ticket's counterpart in the helpdesk, unless an earlier
// attempt did, and links the ticket to it.
func (c *Courier) open(ctx context.Context, conn helpdesk.Connector, d store.Delivery) error {
	t, err := c.Store.Ticket(ctx, d.Ticket)
	if err != nil {
		return err
	}
	if t.Helpdesk != d.Helpdesk || t.External != "" {
		return nil // linked or unlinked since: nothing to open
	}
	nt := helpdesk.NewTicket{Ref: t.Ref, Marker: d.Marker, Title: t.Title, Queue: t.Queue, Text: c.ticketText(ctx, t)}
	ctx, cancel := context.WithTimeout(ctx, c.timeout(d.Helpdesk))
	defer cancel()
	key := ""
	if d.Attempts > 0 {
		if key, err = conn.Find(ctx, nt); err != nil {
			return fmt.Errorf("looking for the ticket an earlier attempt may have opened: %w", err)
		}
	}
	if key == "" {
		if key, err = conn.Open(ctx, nt); err != nil {
			return fmt.Errorf("opening a ticket for %s: %w", t.Ref, err)
		}
	}
	_, err = c.Store.UpdateTicket(context.WithoutCancel(ctx), t.Ref, func(t *ticket.Ticket) (ticket.Event, error) {
		if t.Helpdesk != d.Helpdesk || t.External != "" {
			return ticket.Event{}, fmt.Errorf("ticket %s was linked elsewhere meanwhile (%s); %s in %s is left as it is", t.Ref, t.LinkName(), key, d.Helpdesk)
		}
		return ticket.Apply(t, ticket.Request{Action: ticket.ActLink, Helpdesk: d.Helpdesk, External: key, Queue: t.Queue}, Actor(d.Helpdesk), time.Now().UTC())
	})
	if err != nil {
		return fmt.Errorf("linking ticket %s to %s in %s: %w", t.Ref, key, d.Helpdesk, err)
	}
	c.Wake()
	return nil
}

// timeout bounds an attempt to the helpdesk name.
func (c *Courier) timeout(name string) time.Duration {
	if t := c.Settings[name].Timeout; t > 0 {
		return t
	}
	return 2 * time.Minute
}

// Actor is who the timeline says acted for a helpdesk.
func Actor(helpdesk string) string { return "helpdesk:" + helpdesk }

// comment posts the findings of the step's bundle.
func (c *Courier) comment(ctx context.Context, conn helpdesk.Connector, d store.Delivery) error {
	b, err := c.Store.Bundle(ctx, d.Bundle)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout(d.Helpdesk))
	defer cancel()
	if done, err := c.done(ctx, conn, d); done || err != nil {
		return err
	}
	if err := conn.Comment(ctx, d.External, c.summary(ctx, b, d.Marker)); err != nil {
		return fmt.Errorf("posting the findings of bundle %d: %w", b.ID, err)
	}
	return nil
}

// done reports whether an earlier attempt of d reached the helpdesk.
func (c *Courier) done(ctx context.Context, conn helpdesk.Connector, d store.Delivery) (bool, error) {
	if d.Attempts == 0 {
		return false, nil
	}
	has, err := conn.Has(ctx, d.External, d.Marker)
	if err != nil {
		return false, fmt.Errorf("looking for what an earlier attempt may have sent: %w", err)
	}
	return has, nil
}

// attach uploads the step's bundle, streamed from its file, or says
// where to find it when it is over the helpdesk's limit.
func (c *Courier) attach(ctx context.Context, conn helpdesk.Connector, d store.Delivery) error {
	b, err := c.Store.Bundle(ctx, d.Bundle)
	if err != nil {
		return err
	}
	// An upload may take long: a second more for each 256 KB.
	ctx, cancel := context.WithTimeout(ctx, c.timeout(d.Helpdesk)+time.Duration(b.Size/(256<<10))*time.Second)
	defer cancel()
	if done, err := c.done(ctx, conn, d); done || err != nil {
		return err
	}
	if limit := c.Settings[d.Helpdesk].MaxUpload; limit > 0 && b.Size > limit {
		s := helpdesk.Summary{Marker: d.Marker, Ref: d.Ticket, Link: c.ticketLink(d.Ticket),
			Headline: fmt.Sprintf("Sonde bundle %d is %s, over this helpdesk's limit of %s: download it from Sonde (SHA-256 %s).", b.ID, mb(b.Size), mb(limit), b.SHA256)}
		if err := conn.Comment(ctx, d.External, s); err != nil {
			return fmt.Errorf("saying where bundle %d is: %w", b.ID, err)
		}
		return nil
	}
	f := helpdesk.File{Name: d.Marker, Type: "application/zip", Size: b.Size, SHA256: b.SHA256,
		Open: func() (io.ReadCloser, error) {
			path := b.Path
			if !filepath.IsAbs(path) {
				path = filepath.Join(c.BundleDir, path)
			}
			f, err := os.Open(path)
			if err != nil {
				return nil, fmt.Errorf("opening bundle %d: %w", b.ID, err)
			}
			return f, nil
		}}
	if err := conn.Attach(ctx, d.External, f); err != nil {
		return fmt.Errorf("uploading bundle %d: %w", b.ID, err)
	}
	return nil
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// summary is the comment for bundle b: its findings as pinned when it was
// built, with their fixes.
func (c *Courier) summary(ctx context.Context, b store.Bundle, marker string) helpdesk.Summary {
	host := b.AgentID
	if ag, err := c.Store.Agent(ctx, b.AgentID); err == nil && ag.Facts.Hostname != "" {
		host = ag.Facts.Hostname
	}
	var ranked []bundle.Ranked // findings.json, as redacted into the bundle
	if len(b.Evidence) > 0 {
		if err := json.Unmarshal(b.Evidence, &ranked); err != nil {
			c.Log.Warn("a bundle's findings could not be read; the comment lists none", "bundle", b.ID, "err", err)
		}
	}
	s := helpdesk.Summary{Marker: marker, Ref: b.Ticket, Link: c.ticketLink(b.Ticket)}
	for _, r := range ranked {
		f := helpdesk.Finding{Severity: r.Severity.String(), Title: r.Title}
		if r.KB != nil {
			// The helpdesk is where L2 works: their steps, else the user's.
			f.Fix, f.Steps = r.KB.Title, r.KB.L2Steps
			if len(f.Steps) == 0 {
				f.Steps = r.KB.Steps
			}
		}
		s.Findings = append(s.Findings, f)
	}
	word := "findings"
	if len(s.Findings) == 1 {
		word = "finding"
	}
	s.Headline = fmt.Sprintf("Sonde %s %d (snapshot %d) from %s: %d %s", b.Kind, b.ID, b.SnapshotID, oneLine(host), len(s.Findings), word)
	return s
}

// ticketText is what a ticket opened in a helpdesk says first.
func (c *Courier) ticketText(ctx context.Context, t ticket.Ticket) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Sonde opened this ticket for %s (%s).\n", t.Ref, oneLine(t.Title))
	for _, id := range t.Agents {
		host := ""
		if ag, err := c.Store.Agent(ctx, id); err == nil {
			host = ag.Facts.Hostname
		}
		fmt.Fprintf(&b, "Machine: %s %s\n", oneLine(host), id)
	}
	b.WriteString("Sonde adds the findings and the diagnostic bundles here as comments and attachments.\n")
	if l := c.ticketLink(t.Ref); l != "" {
		b.WriteString("In Sonde: " + l + "\n")
	}
	return b.String()
}

func (c *Courier) ticketLink(ref string) string {
	if c.PublicURL == "" {
		return ""
	}
	return strings.TrimRight(c.PublicURL, "/") + "/tickets/" + url.PathEscape(ref)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "")
	}
	return s
}
