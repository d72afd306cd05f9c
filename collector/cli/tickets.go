package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/ticket"
	"github.com/sondehq/sonde/internal/atomicfile"
	"github.com/sondehq/sonde/internal/cliflag"
	"github.com/sondehq/sonde/internal/render"
)

const ticketUsage = `usage: sonde ticket COMMAND

  open --title T [--ref INC-4711] [--agent AGENT]... [--tier l1|l2|l3]
  list [--status S] [--tier T] [--agent AGENT] [--assignee NAME]
  show REF
  note REF TEXT
  assign REF NAME
  start REF
  escalate REF --to l2|l3 [--note TEXT] [-o FILE]   also builds the handover package and downloads it
                                                    (roles without bundle downloads get the ticket as text)
  resolve | close | reopen REF [--note TEXT]
  link REF --external KEY [--helpdesk NAME]         link to the ticket KEY in the customer's helpdesk: Sonde
                                                    puts each bundle's findings and file there, and follows
                                                    its state back (resolved, reopened, assignee)
  link REF --open [--helpdesk NAME] [--queue Q]     open a ticket there for it, then the same
  link REF --unlink

Every command takes --json.`

func tickets(ctx context.Context, c *Client, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("name a ticket command\n%s", ticketUsage)
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "open":
		return ticketOpen(ctx, c, rest, stdout, stderr)
	case "list":
		return ticketList(ctx, c, rest, stdout, stderr)
	case "show":
		return ticketShow(ctx, c, rest, stdout, stderr)
	case ticket.ActLink:
		return ticketLink(ctx, c, rest, stdout, stderr)
	case ticket.ActNote, ticket.ActAssign, ticket.ActStart, ticket.ActEscalate, ticket.ActResolve, ticket.ActClose, ticket.ActReopen:
		return ticketAct(ctx, c, sub, rest, stdout, stderr)
	}
	return fmt.Errorf("unknown ticket command %q\n%s", sub, ticketUsage)
}

func ticketOpen(ctx context.Context, c *Client, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("ticket open", "sonde ticket open --title T [--ref REF] [--agent AGENT]... [--tier l1|l2|l3] [--json]", stderr)
	var req api.TicketOpen
	fs.StringVar(&req.Title, "title", "", "what the user reported")
	fs.StringVar(&req.Ref, "ref", "", "the helpdesk's reference, e.g. INC-4711 (default: SND-<n>)")
	fs.StringVar(&req.Tier, "tier", "", "tier: l1, l2 or l3 (default: l1 for an l1 key, else l2)")
	agents := (*cliflag.List)(&req.Agents)
	fs.Var(agents, "agent", "affected machine: agent ID or hostname (repeatable)")
	asJSON := fs.Bool("json", false, "print JSON")
	if pos, err := cliflag.Parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return fmt.Errorf("unexpected %q: give the title with --title", pos[0])
	}
	if req.Title == "" {
		return errors.New("--title is required")
	}
	var t api.TicketView
	if err := c.Do(ctx, "POST", "/api/v1/tickets", req, &t); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, t)
	}
	fmt.Fprintf(stdout, "opened ticket %s\n", t.Ref)
	return nil
}

func ticketList(ctx context.Context, c *Client, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("ticket list", "sonde ticket list [--status S] [--tier T] [--agent AGENT] [--assignee NAME] [--json]", stderr)
	q := url.Values{}
	for _, f := range []string{"status", "tier", "agent", "assignee"} {
		fs.Func(f, "only tickets with this "+f, func(v string) error { q.Set(f, v); return nil })
	}
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := cliflag.Parse(fs, args); err != nil {
		return err
	}
	var list []ticket.Ticket
	if err := c.Do(ctx, "GET", "/api/v1/tickets?"+q.Encode(), nil, &list); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, list)
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "no tickets")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REF\tSTATUS\tTIER\tASSIGNEE\tUPDATED\tTITLE")
	now := time.Now()
	for _, t := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Ref, t.Status, strings.ToUpper(t.Tier), dash(t.Assignee),
			ago(t.UpdatedAt, now), render.Clean(t.Title))
	}
	return flush(tw)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return render.Clean(s)
}

func oneRef(fs *flag.FlagSet, pos []string) (string, error) {
	if len(pos) == 0 {
		fs.Usage()
		return "", errors.New("name the ticket (its REF)")
	}
	return pos[0], nil
}

func ticketShow(ctx context.Context, c *Client, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("ticket show", "sonde ticket show REF [--json]", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := cliflag.Parse(fs, args)
	if err != nil {
		return err
	}
	ref, err := oneRef(fs, pos)
	if err != nil {
		return err
	}
	var t api.TicketView
	if err := c.Do(ctx, "GET", "/api/v1/tickets/"+url.PathEscape(ref), nil, &t); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, t)
	}
	printTicket(stdout, &t)
	return nil
}

func ticketAct(ctx context.Context, c *Client, action string, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("ticket "+action, "sonde ticket "+action+" REF ...", stderr)
	req := ticket.Request{Action: action}
	fs.StringVar(&req.Text, "note", "", "why, for the timeline")
	fs.StringVar(&req.To, "to", "", "escalate: the tier to hand over to, l2 or l3")
	out := fs.String("o", "", "escalate: write the handover package to `FILE` (default REF-handover.zip)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := cliflag.Parse(fs, args)
	if err != nil {
		return err
	}
	ref, err := oneRef(fs, pos)
	if err != nil {
		return err
	}
	rest := strings.Join(pos[1:], " ")
	switch action {
	case ticket.ActNote:
		req.Text = strings.TrimSpace(req.Text + " " + rest)
	case ticket.ActAssign:
		req.Assignee = rest
	default:
		if rest != "" {
			return fmt.Errorf("unexpected %q after the REF", rest)
		}
	}
	var plan *handoverPlan
	if action == ticket.ActEscalate {
		if plan, err = planHandover(ctx, c, ref, *out, stderr); err != nil {
			return err
		}
	}
	var t api.TicketView
	if err := c.Do(ctx, "POST", "/api/v1/tickets/"+url.PathEscape(ref)+"/actions", req, &t); err != nil {
		return err
	}
	if plan != nil {
		if err := plan.run(ctx, c, &t, stdout, stderr); err != nil {
			return fmt.Errorf("escalated to %s, but the handover package failed: %w", strings.ToUpper(t.Tier), err)
		}
	}
	if *asJSON {
		return printJSON(stdout, t)
	}
	fmt.Fprintf(stdout, "%s: %s (tier %s)\n", t.Ref, strings.ReplaceAll(t.Status, "_", " "), strings.ToUpper(t.Tier))
	return nil
}

// handoverPlan is what escalate hands over with the ticket: the package
// the next tier starts from — a fresh bundle of the ticket's machine with
// the timeline and notes — downloaded to out by a caller who may, or left
// on the ticket with the ticket as the caller sees it written to out.
type handoverPlan struct {
	agent    string // the machine to bundle; empty for none
	download bool
	out      string
}

// planHandover decides, before the ticket moves, what the caller may hand
// over, and says what it may not include.
func planHandover(ctx context.Context, c *Client, ref, out string, stderr io.Writer) (*handoverPlan, error) {
	var t api.TicketView
	if err := c.Do(ctx, "GET", "/api/v1/tickets/"+url.PathEscape(ref), nil, &t); err != nil {
		return nil, err
	}
	p := &handoverPlan{download: t.Allowed.Download, out: out}
	switch {
	case len(t.Agents) == 0:
		fmt.Fprintf(stderr, "no machine on %s: no handover package (open tickets with --agent)\n", t.Ref)
		return nil, nil
	case !slices.Contains(t.Allowed.Attach, t.Agents[0]):
		fmt.Fprintf(stderr, "note: your role may not attach evidence to %s (only to tickets you opened or that are assigned to you): escalating without a handover package\n", t.Ref)
		return nil, nil
	}
	p.agent = t.Agents[0]
	if p.out == "" {
		p.out = t.Ref + "-handover.zip"
		if !p.download {
			p.out = t.Ref + "-handover.txt"
		}
	}
	if !p.download {
		fmt.Fprintf(stderr, "note: your role does not see bundles' contents: the handover package stays on %s for the next tier, and %s gets the ticket as you see it\n", t.Ref, p.out)
	}
	return p, nil
}

// run builds the handover package on the escalated ticket t and writes
// what the caller may have of it.
func (p *handoverPlan) run(ctx context.Context, c *Client, t *api.TicketView, stdout, stderr io.Writer) error {
	var b api.BundleView
	req := api.BundleRequest{Agent: p.agent, Handover: true}
	if err := c.Do(ctx, "POST", "/api/v1/tickets/"+url.PathEscape(t.Ref)+"/bundles", req, &b); err != nil {
		return err
	}
	if p.download {
		if err := c.Download(ctx, b.Download, p.out, b.SHA256, stderr); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "handover package for %s: %s (bundle %d, timeline, notes, %d findings)\n", strings.ToUpper(t.Tier), p.out, b.ID, len(b.Findings))
		return nil
	}
	var now api.TicketView
	if err := c.Do(ctx, "GET", "/api/v1/tickets/"+url.PathEscape(t.Ref), nil, &now); err != nil {
		return err
	}
	var buf bytes.Buffer
	printTicket(&buf, &now)
	if err := atomicfile.Write(p.out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("saving the ticket as you see it: %w", err)
	}
	fmt.Fprintf(stdout, "handover package for %s: bundle %d on %s (sha256 %s, %d findings); the ticket as you see it: %s\n",
		strings.ToUpper(t.Tier), b.ID, t.Ref, b.SHA256, len(b.Findings), p.out)
	return nil
}
