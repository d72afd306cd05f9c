package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"

	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/ticket"
	"github.com/sondehq/sonde/internal/cliflag"
	"github.com/sondehq/sonde/internal/render"
)

func ticketLink(ctx context.Context, c *Client, args []string, stdout, stderr io.Writer) error {
	fs := cliflag.New("ticket link", "sonde ticket link REF (--external KEY | --open [--queue Q] | --unlink) [--helpdesk NAME] [--json]", stderr)
	req := ticket.Request{Action: ticket.ActLink}
	fs.StringVar(&req.External, "external", "", "the ticket's key in the helpdesk, e.g. 1234 or PROJ-56")
	fs.StringVar(&req.Helpdesk, "helpdesk", "", "the helpdesk's connector name (default: the only one configured)")
	fs.BoolVar(&req.Open, "open", false, "open a ticket in the helpdesk for this one")
	fs.StringVar(&req.Queue, "queue", "", "with --open: the queue, project or group (default: the connector's)")
	unlink := fs.Bool("unlink", false, "stop linking this ticket to a helpdesk")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := cliflag.Parse(fs, args)
	if err != nil {
		return err
	}
	ref, err := oneRef(fs, pos)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 1:
		return fmt.Errorf("unexpected %q after the REF", pos[1])
	case *unlink && (req.Open || req.External != "" || req.Helpdesk != "" || req.Queue != ""):
		return errors.New("--unlink takes no other flag")
	case req.Open && req.External != "":
		return errors.New("give --external KEY for a ticket that exists, or --open for a new one, not both")
	case !*unlink && !req.Open && req.External == "":
		return errors.New("say what to link to: --external KEY, --open, or --unlink")
	case req.Queue != "" && !req.Open:
		return errors.New("--queue goes with --open")
	}
	var t api.TicketView
	if err := c.Do(ctx, "POST", "/api/v1/tickets/"+url.PathEscape(ref)+"/actions", req, &t); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, t)
	}
	if l := api.LinkLine(t); l != "" {
		fmt.Fprintf(stdout, "%s: %s\n", t.Ref, render.Clean(l))
		return nil
	}
	fmt.Fprintf(stdout, "%s: linked to no helpdesk\n", t.Ref)
	return nil
}
