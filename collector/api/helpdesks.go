package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/ticket"
)

// Helpdesks is the courier (package courier) as the API sees it: the
// customer's helpdesks that tickets link to.
type Helpdesks interface {
	// Names lists the configured helpdesks' connector names.
	Names() []string
	// Link is the address of key in helpdesk name's own UI.
	Link(name, key string) string
	// Wake has the courier look at its outbox now.
	Wake()
	// ServeWebhook answers a helpdesk's signed call.
	ServeWebhook(w http.ResponseWriter, r *http.Request)
}

func (a *API) helpdeskRoutes(mux *http.ServeMux) {
	if a.Helpdesks != nil {
		// No API key: the helpdesk proves itself with its signature.
		mux.HandleFunc("POST /api/v1/helpdesks/{name}/webhook", a.Helpdesks.ServeWebhook)
	}
}

// Ticket returns the ticket ref names: a Sonde reference, or a helpdesk's
// key a ticket is linked to, bare ("1234") or with its helpdesk
// ("rt:1234").
func (a *API) Ticket(ctx context.Context, ref string) (ticket.Ticket, error) {
	t, err := a.Store.Ticket(ctx, ref)
	if !errors.Is(err, store.ErrNotFound) {
		return t, err
	}
	helpdesk, key := "", ref
	if h, k, ok := strings.Cut(ref, ":"); ok {
		helpdesk, key = h, k
	}
	if key == "" {
		return t, err
	}
	t2, err2 := a.Store.TicketByExternal(ctx, helpdesk, key)
	switch {
	case errors.Is(err2, store.ErrNotFound):
		return t, err // the ticket as the caller named it
	case errors.Is(err2, store.ErrExists):
		return t2, errorf(http.StatusConflict, "%v", err2)
	}
	return t2, err2
}

// checkLink completes and checks a link request: the helpdesk defaults to
// the only one configured, and must be configured.
func (a *API) checkLink(req *ticket.Request) error {
	if req.Helpdesk == "" && req.External == "" && req.Queue == "" && !req.Open {
		return nil // unlink
	}
	var names []string
	if a.Helpdesks != nil {
		names = a.Helpdesks.Names()
	}
	if len(names) == 0 {
		return errorf(http.StatusBadRequest, "no helpdesk is configured on this collector (sonde-collector serve --helpdesks FILE)")
	}
	if req.Helpdesk == "" {
		if len(names) > 1 {
			return errorf(http.StatusBadRequest, "name the helpdesk: this collector has %s", strings.Join(names, ", "))
		}
		req.Helpdesk = names[0]
	}
	if req.Open && req.External != "" {
		return errorf(http.StatusBadRequest, "a link names an external key, or asks to open a ticket there (open), not both")
	}
	for _, n := range names {
		if n == req.Helpdesk {
			return nil
		}
	}
	return errorf(http.StatusBadRequest, "no helpdesk named %q is configured (this collector has %s)", req.Helpdesk, strings.Join(names, ", "))
}

func (a *API) wakeCourier() {
	if a.Helpdesks != nil {
		a.Helpdesks.Wake()
	}
}

// externalURL is the ticket's address in its helpdesk; "" when it has
// none.
func (a *API) externalURL(t ticket.Ticket) string {
	if a.Helpdesks == nil || t.External == "" {
		return ""
	}
	return a.Helpdesks.Link(t.Helpdesk, t.External)
}

// DeliveryLine says what a step of the outbox is and where it stands, as
// `sonde ticket show` and the ticket page both show it.
func DeliveryLine(d store.Delivery) string {
	what := map[string]string{
		store.StepOpen:    "open the ticket",
		store.StepComment: fmt.Sprintf("findings of bundle %d", d.Bundle),
		store.StepAttach:  fmt.Sprintf("file of bundle %d", d.Bundle),
	}[d.Step]
	if what == "" {
		what = d.Step
	}
	switch d.State {
	case store.DeliverySent:
		return fmt.Sprintf("%s: sent %s", what, d.SentAt.Local().Format("2006-01-02 15:04:05"))
	case store.DeliveryFailed:
		return fmt.Sprintf("%s: failing after %d attempts, next at %s: %s", what, d.Attempts, d.NextAt.Local().Format("15:04:05"), d.LastError)
	}
	if d.Attempts > 0 {
		return fmt.Sprintf("%s: sending (attempt %d)", what, d.Attempts)
	}
	return what + ": waiting"
}

// LinkLine says where the ticket stands with its helpdesk; "" when it is
// not linked.
func LinkLine(t TicketView) string {
	switch {
	case t.Helpdesk == "":
		return ""
	case t.External == "":
		q := ""
		if t.Queue != "" {
			q = " (queue " + t.Queue + ")"
		}
		return fmt.Sprintf("helpdesk %s: to be opened there%s", t.Helpdesk, q)
	}
	return strings.TrimSpace(fmt.Sprintf("helpdesk %s: %s %s", t.Helpdesk, t.External, t.ExternalURL))
}
