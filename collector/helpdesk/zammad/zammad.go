// Package zammad puts Sonde's evidence on Zammad tickets through Zammad's
// REST API (/api/v1), with an access token ("Authorization: Token
// token=..."), and verifies Zammad's webhooks (X-Hub-Signature).
//
// Tickets open in the group named by the connector's queue ("Users" when
// none is set), for the customer named by fields.customer: an e-mail
// address, or "guess:ADDRESS" to let Zammad create the customer. Other
// fields are set on the ticket as Zammad attributes (priority, state, a
// custom object's attribute). Comments and attachments are internal notes.
//
// Zammad has no "resolved": a ticket whose state is of Zammad's "closed"
// type (the "closed" state, or an administrator's own state of that type) is
// resolved in Sonde's words, and a "merged" or "removed" one is closed; every
// other state type (new, open, pending reminder, pending action) is open.
//
// Find searches titles with Zammad's search (title:"MARKER"), which needs
// the Elasticsearch Zammad recommends; without it Find finds nothing, and a
// ticket whose opening answer was lost is opened again.
package zammad

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/sondehq/sonde/collector/helpdesk"
)

func init() { helpdesk.Register("zammad", New) }

// DefaultGroup is the group of new tickets when the connector names none:
// the group every Zammad starts with.
const DefaultGroup = "Users"

// Connector speaks Zammad's REST API.
type Connector struct {
	cl         *helpdesk.Client
	group      string
	attrs      map[string]string // from Settings.Fields, the customer's key included
	maxUpload  int64
	hookSecret string
	types      sync.Map // state id → its state type, for states that are not Zammad's own
}

var (
	_ helpdesk.Connector = (*Connector)(nil)
	_ helpdesk.Hooked    = (*Connector)(nil)
)

// New makes a Zammad connector: s.URL is Zammad's address, s.Secret an
// access token with the ticket.agent permission.
func New(s helpdesk.Settings) (helpdesk.Connector, error) {
	if s.Secret == "" {
		return nil, errors.New("zammad: secret: give an access token (Profile > Token Access, permission ticket.agent)")
	}
	customer := strings.TrimSpace(s.Fields["customer"])
	if customer == "" {
		return nil, errors.New(`zammad: fields.customer: name the customer of new tickets (an e-mail, or "guess:ADDRESS" to create them)`)
	}
	cl, err := helpdesk.NewClient(s.URL, func(r *http.Request) {
		r.Header.Set("Authorization", "Token token="+s.Secret)
	}, s.Secret, s.WebhookSecret)
	if err != nil {
		return nil, fmt.Errorf("zammad: %w", err)
	}
	attrs := map[string]string{}
	for k, v := range s.Fields {
		if k != "customer" {
			attrs[k] = v
		}
	}
	// Zammad takes an address as "customer", and "guess:" as customer_id.
	if strings.HasPrefix(customer, "guess:") {
		attrs["customer_id"] = customer
	} else {
		attrs["customer"] = customer
	}
	c := &Connector{cl: cl, group: s.Queue, attrs: attrs, maxUpload: s.MaxUpload, hookSecret: s.WebhookSecret}
	if c.group == "" {
		c.group = DefaultGroup
	}
	if c.maxUpload <= 0 {
		c.maxUpload = helpdesk.DefaultMaxUpload
	}
	return c, nil
}

// ticketID checks that key is a Zammad ticket id before it goes in a path.
func ticketID(key string) (int64, error) {
	id, err := strconv.ParseInt(key, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("zammad: ticket key %q is not a ticket id", key)
	}
	return id, nil
}

// Open creates the ticket with its first article, an internal note.
func (c *Connector) Open(ctx context.Context, t helpdesk.NewTicket) (string, error) {
	body := map[string]any{}
	for k, v := range c.attrs {
		body[k] = v
	}
	group := c.group
	if t.Queue != "" {
		group = t.Queue
	}
	body["title"] = t.Subject()
	body["group"] = group
	body["article"] = map[string]any{"subject": t.Subject(), "body": t.Text, "content_type": "text/plain", "type": "note", "internal": true}
	var out struct {
		ID int64 `json:"id"`
	}
	if err := c.cl.JSON(ctx, http.MethodPost, "/api/v1/tickets", body, &out); err != nil {
		return "", fmt.Errorf("zammad: opening a ticket: %w", err)
	}
	if out.ID <= 0 {
		return "", errors.New("zammad: opening a ticket: the answer has no ticket id")
	}
	return strconv.FormatInt(out.ID, 10), nil
}

// Find searches ticket titles for the marker; Zammad's search is fuzzy, so
// a title counts only if it carries "[MARKER]" as Subject puts it.
func (c *Connector) Find(ctx context.Context, t helpdesk.NewTicket) (string, error) {
	q := url.Values{
		"query":    {`title:"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(t.Marker) + `"`},
		"expand":   {"true"},
		"per_page": {"20"},
		"page":     {"1"},
	}
	var list []struct {
		ID    int64  `json:"id"`
		Title string `json:"title"`
	}
	if err := c.cl.JSON(ctx, http.MethodGet, "/api/v1/tickets/search?"+q.Encode(), nil, &list); err != nil {
		return "", fmt.Errorf("zammad: searching tickets: %w", err)
	}
	for _, tk := range list {
		if tk.ID > 0 && strings.Contains(tk.Title, "["+t.Marker+"]") {
			return strconv.FormatInt(tk.ID, 10), nil
		}
	}
	return "", nil
}

// Comment adds the summary as an internal HTML note.
func (c *Connector) Comment(ctx context.Context, key string, s helpdesk.Summary) error {
	id, err := ticketID(key)
	if err != nil {
		return err
	}
	body := map[string]any{"ticket_id": id, "subject": s.Headline, "body": s.HTML(), "content_type": "text/html", "type": "note", "internal": true}
	if err := c.cl.JSON(ctx, http.MethodPost, "/api/v1/ticket_articles", body, nil); err != nil {
		return fmt.Errorf("zammad: commenting on ticket %d: %w", id, err)
	}
	return nil
}

// article is one ticket article as Zammad lists them.
type article struct {
	Body        string `json:"body"`
	Attachments []struct {
		Filename string `json:"filename"`
	} `json:"attachments"`
}

// Has looks for marker in the ticket's articles and their attachments'
// file names.
func (c *Connector) Has(ctx context.Context, key, marker string) (bool, error) {
	id, err := ticketID(key)
	if err != nil {
		return false, err
	}
	var arts []article
	if err := c.cl.JSON(ctx, http.MethodGet, "/api/v1/ticket_articles/by_ticket/"+strconv.FormatInt(id, 10), nil, &arts); err != nil {
		return false, fmt.Errorf("zammad: reading the articles of ticket %d: %w", id, err)
	}
	for _, a := range arts {
		// Zammad keeps HTML bodies as HTML: the marker may be escaped.
		if strings.Contains(html.UnescapeString(a.Body), marker) {
			return true, nil
		}
		for _, f := range a.Attachments {
			if strings.Contains(f.Filename, marker) {
				return true, nil
			}
		}
	}
	return false, nil
}

// defaultStates maps Zammad's own states to Sonde's words by their state
// type; other states are looked up (see status).
var defaultStates = map[string]string{
	"new": helpdesk.StatusOpen, "open": helpdesk.StatusOpen,
	"pending reminder": helpdesk.StatusOpen, "pending close": helpdesk.StatusOpen,
	"closed": helpdesk.StatusResolved, "merged": helpdesk.StatusClosed, "removed": helpdesk.StatusClosed,
}

// statusOfType maps a Zammad state type to Sonde's words.
func statusOfType(typ string) string {
	switch typ {
	case "closed":
		return helpdesk.StatusResolved
	case "merged", "removed":
		return helpdesk.StatusClosed
	}
	return helpdesk.StatusOpen
}

// owner is a user's login as Zammad names the ticket's owner, cleaned;
// "-" is Zammad's nobody.
func owner(login string) string {
	login = helpdesk.CleanName(login)
	if login == "-" {
		return ""
	}
	return login
}

// State reads the ticket's state and owner.
func (c *Connector) State(ctx context.Context, key string) (helpdesk.State, error) {
	id, err := ticketID(key)
	if err != nil {
		return helpdesk.State{}, err
	}
	var tk struct {
		State   string `json:"state"`
		StateID int64  `json:"state_id"`
		Owner   string `json:"owner"`
	}
	if err := c.cl.JSON(ctx, http.MethodGet, "/api/v1/tickets/"+strconv.FormatInt(id, 10)+"?expand=true", nil, &tk); err != nil {
		return helpdesk.State{}, fmt.Errorf("zammad: reading ticket %d: %w", id, err)
	}
	st, err := c.status(ctx, tk.State, tk.StateID)
	if err != nil {
		return helpdesk.State{}, fmt.Errorf("zammad: ticket %d: %w", id, err)
	}
	return helpdesk.State{Status: st, Assignee: owner(tk.Owner)}, nil
}

// status maps a ticket's state to Sonde's words: Zammad's own states by
// name, an administrator's own by its state type, read once per state.
func (c *Connector) status(ctx context.Context, name string, stateID int64) (string, error) {
	if st, ok := defaultStates[name]; ok {
		return st, nil
	}
	if typ, ok := c.types.Load(stateID); ok {
		return statusOfType(typ.(string)), nil
	}
	if stateID <= 0 {
		return "", fmt.Errorf("the state %q comes without its state_id", name)
	}
	var s struct {
		StateType string `json:"state_type"`
	}
	if err := c.cl.JSON(ctx, http.MethodGet, "/api/v1/ticket_states/"+strconv.FormatInt(stateID, 10)+"?expand=true", nil, &s); err != nil {
		return "", fmt.Errorf("reading the type of state %q: %w", name, err)
	}
	if s.StateType == "" {
		return "", fmt.Errorf("zammad names no state_type for state %q", name)
	}
	c.types.Store(stateID, s.StateType)
	return statusOfType(s.StateType), nil
}

// Link is the ticket's page in Zammad's UI.
func (c *Connector) Link(key string) string { return c.cl.URL("/#ticket/zoom/" + url.PathEscape(key)) }
