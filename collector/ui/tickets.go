package ui

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/sondehq/sonde/collector/access"
	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/ticket"
)

// statuses and tiers are the filter choices of the ticket list.
var (
	statuses = []string{ticket.New, ticket.InProgress, ticket.Escalated, ticket.Resolved, ticket.Closed}
	tiers    = []string{ticket.L1, ticket.L2, ticket.L3}
)

type ticketsData struct {
	Status, Tier, Agent string
	Statuses, Tiers     []string
	Tickets             []ticket.Ticket
	Error               string
	// OpenTiers are the tiers the caller may open a ticket at; Draft is
	// what it typed into the form before opening was refused.
	OpenTiers []string
	Draft     url.Values
}

// openForm names the form to open a ticket in the session's drafts.
const openForm = "open-ticket"

func (u *UI) tickets(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	d := ticketsData{Status: q.Get("status"), Tier: q.Get("tier"), Agent: strings.TrimSpace(q.Get("agent")), Statuses: statuses, Tiers: tiers}
	k, _ := api.KeyFrom(ctx)
	for _, tier := range tiers {
		if access.Open(k, tier) == nil {
			d.OpenTiers = append(d.OpenTiers, tier)
		}
	}
	if s := sessionFrom(ctx); s != nil {
		d.Draft, _ = url.ParseQuery(u.sessions.takeDraft(s.id, openForm))
	}
	f := store.TicketFilter{Status: d.Status, Tier: d.Tier}
	if d.Agent != "" {
		ag, err := u.api.FindAgent(ctx, d.Agent)
		if err != nil {
			status, msg := api.Status(err)
			if status == http.StatusServiceUnavailable {
				u.fail(w, r, err)
				return
			}
			d.Error = msg
			u.render(w, r, status, "tickets", "Tickets", d)
			return
		}
		f.Agent = ag.ID
	}
	list, err := u.api.Store.Tickets(ctx, f)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	d.Tickets = list
	u.render(w, r, http.StatusOK, "tickets", "Tickets", d)
}

func (u *UI) openTicket(w http.ResponseWriter, r *http.Request) {
	req := api.TicketOpen{
		Ref:   strings.TrimSpace(r.PostFormValue("ref")),
		Title: r.PostFormValue("title"),
		Tier:  r.PostFormValue("tier"),
	}
	req.Agents = strings.FieldsFunc(r.PostFormValue("agents"), func(c rune) bool { return c == ',' || c == ' ' })
	t, err := u.api.OpenTicket(r.Context(), req)
	if err != nil {
		if s := sessionFrom(r.Context()); s != nil {
			u.sessions.keepDraft(s.id, openForm, r.PostForm.Encode())
		}
		u.done(w, r, "/tickets", err, "")
		return
	}
	u.done(w, r, "/tickets/"+url.PathEscape(t.Ref), nil, fmt.Sprintf("Ticket %s opened.", t.Ref))
}

type ticketData struct {
	api.TicketView
	Hostnames map[string]string // agent ID → hostname, for bundles
	// Evidence and Current are the ticket's evidence and the machines'
	// findings now, each with its machine's hostname.
	Evidence, Current []hostFinding
	// Actions are the actions the caller may take (see Allowed): the page
	// offers nothing else.
	Actions map[string]bool
	// Attach lists the ticket's machines the caller may attach a fresh
	// bundle of.
	Attach []api.Asset
	// Me is the caller's name, for "Assign to me" when it may assign to
	// nobody else.
	Me           string
	AssignOthers bool
	// Draft is what the caller typed before an action was refused.
	Draft string
	// Helpdesks are the customer's helpdesks the ticket may link to.
	Helpdesks []string
}

// hostFinding is a finding of a ticket's page with its machine's name.
type hostFinding struct {
	api.AgentFinding
	Host string
}

// draftForm names the ticket page's form in the session's drafts.
func draftForm(ref string) string { return "ticket:" + ref }

func (u *UI) ticket(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	t, err := u.api.Ticket(ctx, r.PathValue("ref"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	v, err := u.api.TicketDetail(ctx, t)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	k, _ := api.KeyFrom(ctx)
	d := ticketData{TicketView: v, Hostnames: map[string]string{}, Actions: map[string]bool{}, Me: k.Name, AssignOthers: access.AssignsOthers(k)}
	for _, a := range v.Allowed.Actions {
		d.Actions[a] = true
	}
	if u.api.Helpdesks != nil {
		d.Helpdesks = u.api.Helpdesks.Names()
	}
	for _, a := range v.Assets {
		d.Hostnames[a.AgentID] = a.Facts.Hostname
		if slices.Contains(v.Allowed.Attach, a.AgentID) {
			d.Attach = append(d.Attach, a)
		}
	}
	for _, f := range v.Findings {
		d.Evidence = append(d.Evidence, hostFinding{f, d.Hostnames[f.AgentID]})
	}
	for _, f := range v.Now {
		d.Current = append(d.Current, hostFinding{f, d.Hostnames[f.AgentID]})
	}
	if s := sessionFrom(ctx); s != nil {
		d.Draft = u.sessions.takeDraft(s.id, draftForm(t.Ref))
	}
	u.render(w, r, http.StatusOK, "ticket", t.Ref+": "+t.Title, d)
}

func (u *UI) ticketAction(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("ref")
	req := ticket.Request{
		Action:   r.PostFormValue("action"),
		Text:     r.PostFormValue("text"),
		Assignee: r.PostFormValue("assignee"),
		To:       r.PostFormValue("to"),
	}
	if req.Action == ticket.ActLink && r.PostFormValue("unlink") == "" {
		req.Helpdesk, req.External = r.PostFormValue("helpdesk"), strings.TrimSpace(r.PostFormValue("external"))
		if r.PostFormValue("open") != "" {
			req.Open, req.External = true, ""
		}
	}
	t, err := u.api.ActOnTicket(r.Context(), ref, req)
	back := "/tickets/" + url.PathEscape(ref)
	if err != nil {
		if s := sessionFrom(r.Context()); s != nil {
			u.sessions.keepDraft(s.id, draftForm(ref), req.Text)
		}
		u.done(w, r, back, err, "")
		return
	}
	msg := map[string]string{
		ticket.ActNote:     "Note added.",
		ticket.ActAssign:   "Assigned to " + t.Assignee + ".",
		ticket.ActStart:    "Work started.",
		ticket.ActEscalate: "Escalated to " + strings.ToUpper(t.Tier) + ".",
		ticket.ActResolve:  "Resolved.",
		ticket.ActClose:    "Closed.",
		ticket.ActReopen:   "Reopened.",
		ticket.ActLink:     cmp.Or(api.LinkLine(api.TicketView{Ticket: t}), "Linked to no helpdesk") + ".",
	}[req.Action]
	u.done(w, r, back, nil, msg)
}

func (u *UI) download(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		u.render(w, r, http.StatusBadRequest, "error", "Bad request", fmt.Sprintf("Bundle ID %q is not a number.", r.PathValue("id")))
		return
	}
	if err := u.api.ServeBundle(w, r, id); err != nil {
		u.fail(w, r, err)
	}
}
