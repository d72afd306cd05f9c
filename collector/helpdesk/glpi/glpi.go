// Package glpi puts Sonde's evidence on GLPI tickets through GLPI's REST
// API (apirest.php), and reads their state back by polling: GLPI has no
// signed webhooks.
//
// The connector's url is GLPI's root (https://glpi.example.com/glpi; a
// trailing /apirest.php is dropped); its secret is a user's API token
// ("Remote access key"), and app_token the App-Token of GLPI's API client
// when one is configured. The token opens a session (initSession) that
// every call then names in Session-Token; a session GLPI no longer knows
// (ERROR_SESSION_TOKEN_INVALID) is opened again, once per call.
//
// GLPI has no queues: the connector's queue, when set, is the id of the ITIL
// category new tickets get (itilcategories_id), and must be a number; a
// ticket's own queue that is not a number is ignored. Fields are set on new
// tickets by GLPI's field names (urgency, type, entities_id, ...).
// Comments are private followups; attachments are Documents linked to the
// ticket. A ticket whose status is 1 to 4 (new, processing, planned,
// pending) is open, 5 (solved) resolved, 6 closed; its assignee is the login
// of its first assigned technician.
package glpi

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/sondehq/sonde/collector/helpdesk"
)

func init() { helpdesk.Register("glpi", New) }

// Connector speaks GLPI's REST API.
type Connector struct {
	api       *helpdesk.Client // GLPI's apirest.php, without a session
	userToken string
	appToken  string
	root      string // GLPI's root, for links
	category  string // itilcategories_id of new tickets, "" for none
	fields    map[string]string
	maxUpload int64

	mu   sync.Mutex
	sess *helpdesk.Client // api with the session's token; nil until one is open
}

var _ helpdesk.Connector = (*Connector)(nil)

// New makes a GLPI connector.
func New(s helpdesk.Settings) (helpdesk.Connector, error) {
	if s.Secret == "" {
		return nil, errors.New("glpi: secret: give a user's API token (the user's Remote access key)")
	}
	if s.Queue != "" && !numeric(s.Queue) {
		return nil, fmt.Errorf("glpi: queue %q: GLPI's queue is an ITIL category's id, a number", s.Queue)
	}
	root := strings.TrimSuffix(strings.TrimRight(s.URL, "/"), "/apirest.php")
	c := &Connector{userToken: s.Secret, appToken: s.AppToken, root: root, category: s.Queue, fields: s.Fields, maxUpload: s.MaxUpload}
	api, err := helpdesk.NewClient(root+"/apirest.php", c.headers, s.Secret, s.AppToken)
	if err != nil {
		return nil, fmt.Errorf("glpi: %w", err)
	}
	c.api = api
	if c.maxUpload <= 0 {
		c.maxUpload = helpdesk.DefaultMaxUpload
	}
	return c, nil
}

func numeric(s string) bool {
	_, ok := number(s)
	return ok
}

// number is s as a positive GLPI id written as GLPI writes one ("+7" and
// "007" are "7", so that a ticket never gets two keys), and whether s is
// one.
func number(s string) (string, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return "", false
	}
	return strconv.FormatInt(n, 10), true
}

// headers are on every call: the App-Token, and a Content-Type, which
// GLPI's documentation asks of every request.
func (c *Connector) headers(r *http.Request) {
	if c.appToken != "" {
		r.Header.Set("App-Token", c.appToken)
	}
	if r.Header.Get("Content-Type") == "" {
		r.Header.Set("Content-Type", "application/json")
	}
}

// session returns a client whose calls carry an open session's token.
func (c *Connector) session(ctx context.Context) (*helpdesk.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess != nil {
		return c.sess, nil
	}
	var out struct {
		SessionToken string `json:"session_token"`
	}
	err := c.api.Do(ctx, http.MethodGet, "/initSession", func(r *http.Request) {
		r.Header.Set("Authorization", "user_token "+c.userToken)
	}, nil, &out)
	if err != nil {
		return nil, fmt.Errorf("opening a session: %w", err)
	}
	if out.SessionToken == "" {
		return nil, errors.New("opening a session: GLPI answered no session_token")
	}
	s := *c.api
	s.Auth = func(r *http.Request) {
		c.headers(r)
		r.Header.Set("Session-Token", out.SessionToken)
	}
	s.Secrets = append(slices.Clip(c.api.Secrets), out.SessionToken)
	c.sess = &s
	return c.sess, nil
}

// request is one call of GLPI's API: a JSON body (in), or a multipart
// body made anew for each attempt (parts, which returns what to do once
// the attempt is over).
type request struct {
	method, path string
	in           any
	parts        func() ([]helpdesk.Part, func(), error)
}

// do sends r with a session, and again with a new session when GLPI no
// longer knows the first; its error names op.
func (c *Connector) do(ctx context.Context, op string, r request, out any) error {
	for retried := false; ; retried = true {
		cl, err := c.session(ctx)
		switch {
		case err != nil:
		case r.parts != nil:
			var parts []helpdesk.Part
			var done func()
			if parts, done, err = r.parts(); err == nil {
				err = cl.Multipart(ctx, r.method, r.path, parts, out)
				done()
			}
		default:
			err = cl.JSON(ctx, r.method, r.path, r.in, out)
		}
		if err == nil {
			return nil
		}
		if !retried && expired(err) {
			c.mu.Lock()
			if c.sess == cl {
				c.sess = nil
			}
			c.mu.Unlock()
			continue
		}
		return fmt.Errorf("glpi: %s: %w", op, err)
	}
}

// expired tells GLPI's answer to a session it does not know.
func expired(err error) bool {
	var se *helpdesk.StatusError
	return errors.As(err, &se) && se.Code == http.StatusUnauthorized && strings.Contains(se.Excerpt, "ERROR_SESSION_TOKEN_INVALID")
}

// ticketID checks that key is a GLPI ticket id before it goes in a path.
func ticketID(key string) (string, error) {
	id, ok := number(key)
	if !ok {
		return "", fmt.Errorf("glpi: ticket key %q is not a ticket id", key)
	}
	return id, nil
}

// created is GLPI's answer to an added item: its id, or false and why.
type created struct {
	ID      any    `json:"id"`
	Message string `json:"message"`
}

func (a created) id() (string, error) {
	switch v := a.ID.(type) {
	case float64:
		if v > 0 && v == float64(int64(v)) {
			return strconv.FormatInt(int64(v), 10), nil
		}
	case string:
		if id, ok := number(v); ok {
			return id, nil
		}
	}
	return "", fmt.Errorf("GLPI added nothing: %q", a.Message)
}

// Open creates the ticket.
func (c *Connector) Open(ctx context.Context, t helpdesk.NewTicket) (string, error) {
	input := map[string]any{}
	for k, v := range c.fields {
		input[k] = v
	}
	if numeric(t.Queue) {
		input["itilcategories_id"] = t.Queue
	} else if c.category != "" {
		input["itilcategories_id"] = c.category
	}
	input["name"] = t.Subject()
	input["content"] = "<p>" + strings.ReplaceAll(html.EscapeString(t.Text), "\n", "<br>") + "</p>"
	var out created
	if err := c.do(ctx, "opening a ticket", request{method: http.MethodPost, path: "/Ticket", in: map[string]any{"input": input}}, &out); err != nil {
		return "", err
	}
	key, err := out.id()
	if err != nil {
		return "", fmt.Errorf("glpi: opening a ticket: %w", err)
	}
	return key, nil
}

// Find searches ticket titles (search option 1) for the marker, showing
// ids (search option 2); GLPI's "contains" matches loosely, so a title
// counts only if it carries "[MARKER]" as Subject puts it.
func (c *Connector) Find(ctx context.Context, t helpdesk.NewTicket) (string, error) {
	q := url.Values{
		"criteria[0][field]":      {"1"},
		"criteria[0][searchtype]": {"contains"},
		"criteria[0][value]":      {t.Marker},
		"forcedisplay[0]":         {"2"},
		"range":                   {"0-49"},
	}
	var out struct {
		Data any `json:"data"`
	}
	if err := c.do(ctx, "searching tickets", request{method: http.MethodGet, path: "/search/Ticket?" + q.Encode()}, &out); err != nil {
		return "", err
	}
	for _, row := range rows(out.Data) {
		name, _ := row["1"].(string)
		if id, err := (created{ID: row["2"]}).id(); err == nil && strings.Contains(html.UnescapeString(name), "["+t.Marker+"]") {
			return id, nil
		}
	}
	return "", nil
}

// rows are a search's rows: an array by default, an object by item id
// with withindexes.
func rows(data any) []map[string]any {
	var out []map[string]any
	switch d := data.(type) {
	case []any:
		for _, r := range d {
			if m, ok := r.(map[string]any); ok {
				out = append(out, m)
			}
		}
	case map[string]any:
		for _, r := range d {
			if m, ok := r.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

// Comment adds the summary as a private followup, in HTML.
func (c *Connector) Comment(ctx context.Context, key string, s helpdesk.Summary) error {
	id, err := ticketID(key)
	if err != nil {
		return err
	}
	n, _ := strconv.ParseInt(id, 10, 64)
	in := map[string]any{"input": map[string]any{"itemtype": "Ticket", "items_id": n, "content": s.HTML(), "is_private": 1}}
	var out created
	if err := c.do(ctx, "commenting on ticket "+id, request{method: http.MethodPost, path: "/Ticket/" + id + "/ITILFollowup", in: in}, &out); err != nil {
		return err
	}
	if _, err := out.id(); err != nil {
		return fmt.Errorf("glpi: commenting on ticket %s: %w", id, err)
	}
	return nil
}

// Link is the ticket's page in GLPI.
func (c *Connector) Link(key string) string {
	return c.root + "/front/ticket.form.php?id=" + url.QueryEscape(key)
}
