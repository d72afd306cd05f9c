// Package rt connects Sonde to Request Tracker 5 through its REST2 API
// (RT::REST2, core since RT 5.0): tickets open in a queue with the marker
// in their subject, summaries go on as HTML comments, bundles as files on
// a comment, sent as multipart/form-data so that they stream.
package rt

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sondehq/sonde/collector/helpdesk"
)

func init() { helpdesk.Register("rt", New) }

// api is where REST2 lives under RT's web address.
const api = "/REST/2.0"

// Connector speaks one RT's REST2 API.
type Connector struct {
	c         *helpdesk.Client
	web       string // RT's web address, for links
	queue     string
	fields    map[string]string // top-level ticket fields from the settings
	custom    map[string]string // custom fields, by name
	maxUpload int64
}

var _ helpdesk.Connector = (*Connector)(nil)

// reserved are the ticket fields the connector sets itself.
var reserved = map[string]bool{"Queue": true, "Subject": true, "Content": true, "ContentType": true, "CustomFields": true}

// New makes a connector from s: s.Secret is an auth token (header
// "Authorization: token T"), or the password of s.User (Basic auth) when
// s.User is set. Fields named "CF.Name" (or "CF.{Name}") are custom fields.
func New(s helpdesk.Settings) (helpdesk.Connector, error) {
	if s.Secret == "" {
		return nil, errors.New("rt: secret: want an auth token, or the password of user")
	}
	auth := func(r *http.Request) { r.Header.Set("Authorization", "token "+s.Secret) }
	secrets := []string{s.Secret}
	if s.User != "" {
		auth = func(r *http.Request) { r.SetBasicAuth(s.User, s.Secret) }
		// The header's base64 would give the password away in an echoed answer.
		secrets = append(secrets, base64.StdEncoding.EncodeToString([]byte(s.User+":"+s.Secret)))
	}
	c, err := helpdesk.NewClient(s.URL, auth, secrets...)
	if err != nil {
		return nil, fmt.Errorf("rt: %w", err)
	}
	conn := &Connector{c: c, web: c.Base.String(), queue: s.Queue, fields: map[string]string{}, custom: map[string]string{}, maxUpload: s.MaxUpload}
	if conn.maxUpload == 0 {
		conn.maxUpload = helpdesk.DefaultMaxUpload
	}
	for k, v := range s.Fields {
		if name, ok := strings.CutPrefix(k, "CF."); ok {
			name = strings.TrimSuffix(strings.TrimPrefix(name, "{"), "}")
			if name == "" {
				return nil, fmt.Errorf("rt: fields: %q names no custom field", k)
			}
			conn.custom[name] = v
			continue
		}
		if reserved[k] {
			return nil, fmt.Errorf("rt: fields: %s is set by the connector", k)
		}
		conn.fields[k] = v
	}
	return conn, nil
}

// Open creates the ticket in t.Queue, or the connector's queue.
func (c *Connector) Open(ctx context.Context, t helpdesk.NewTicket) (string, error) {
	queue := t.Queue
	if queue == "" {
		queue = c.queue
	}
	if queue == "" {
		return "", fmt.Errorf("rt: opening a ticket for %s: no queue (set queue: in the helpdesks file)", t.Ref)
	}
	body := map[string]any{}
	for k, v := range c.fields {
		body[k] = v
	}
	if len(c.custom) > 0 {
		body["CustomFields"] = c.custom
	}
	body["Queue"], body["Subject"], body["Content"], body["ContentType"] = queue, t.Subject(), t.Text, "text/plain"
	var out struct {
		ID scalar `json:"id"`
	}
	if err := c.c.JSON(ctx, http.MethodPost, api+"/ticket", body, &out); err != nil {
		return "", fmt.Errorf("rt: opening a ticket for %s: %w", t.Ref, err)
	}
	if !isKey(string(out.ID)) {
		return "", fmt.Errorf("rt: opening a ticket for %s: the answer has no ticket id (%q)", t.Ref, out.ID)
	}
	return string(out.ID), nil
}

// maxFindPages bounds Find: 100 tickets a page.
const maxFindPages = 10

// Find searches subjects with TicketSQL for the marker, and keeps the
// oldest whose subject carries "[marker]" exactly (LIKE also matches
// SND-70 when looking for SND-7).
func (c *Connector) Find(ctx context.Context, t helpdesk.NewTicket) (string, error) {
	if t.Marker == "" {
		return "", fmt.Errorf("rt: finding the ticket of %s: no marker", t.Ref)
	}
	want := "[" + t.Marker + "]"
	q := url.Values{"query": {"Subject LIKE '" + sqlQuote(t.Marker) + "'"}, "fields": {"Subject"}, "orderby": {"id"}, "order": {"ASC"}, "per_page": {"100"}}
	for page := 1; page <= maxFindPages; page++ {
		q.Set("page", strconv.Itoa(page))
		var res collection[struct {
			ID      scalar `json:"id"`
			Subject string `json:"Subject"`
		}]
		if err := c.c.JSON(ctx, http.MethodGet, api+"/tickets?"+q.Encode(), nil, &res); err != nil {
			return "", fmt.Errorf("rt: finding the ticket of %s: %w", t.Ref, err)
		}
		for _, it := range res.Items {
			if strings.Contains(it.Subject, want) && isKey(string(it.ID)) {
				return string(it.ID), nil
			}
		}
		if res.NextPage == "" {
			return "", nil
		}
	}
	return "", fmt.Errorf("rt: finding the ticket of %s: more than %d tickets' subjects hold its marker", t.Ref, maxFindPages*100)
}

// Comment adds s as an HTML comment (RT renders text/html comments).
func (c *Connector) Comment(ctx context.Context, key string, s helpdesk.Summary) error {
	if !isKey(key) {
		return fmt.Errorf("rt: commenting: %q is not a ticket number", key)
	}
	body := map[string]string{"Content": s.HTML(), "ContentType": "text/html"}
	if err := c.c.JSON(ctx, http.MethodPost, api+"/ticket/"+key+"/comment", body, nil); err != nil {
		return fmt.Errorf("rt: commenting on ticket %s: %w", key, err)
	}
	return nil
}

// Attach puts f on a comment: a multipart body with a JSON part (the
// comment) and an Attachments part (the file, streamed), as REST2 takes
// files without base64.
func (c *Connector) Attach(ctx context.Context, key string, f helpdesk.File) error {
	if !isKey(key) {
		return fmt.Errorf("rt: attaching %s: %q is not a ticket number", f.Name, key)
	}
	if f.Size < 0 || f.Size > c.maxUpload {
		return fmt.Errorf("rt: attaching %s (%d bytes) to ticket %s: over the upload limit of %d bytes", f.Name, f.Size, key, c.maxUpload)
	}
	typ := f.Type
	if typ == "" {
		typ = "application/octet-stream"
	}
	js, err := json.Marshal(map[string]string{
		"Content":     fmt.Sprintf("Sonde attached %s (%d bytes, SHA-256 %s).", f.Name, f.Size, f.SHA256),
		"ContentType": "text/plain",
	})
	if err != nil {
		return fmt.Errorf("rt: attaching %s: %w", f.Name, err)
	}
	r, err := f.Open()
	if err != nil {
		return fmt.Errorf("rt: attaching %s: opening it: %w", f.Name, err)
	}
	defer r.Close()
	parts := []helpdesk.Part{
		{Field: "JSON", Type: "application/json", Data: js},
		{Field: "Attachments", FileName: f.Name, Type: typ, File: r, Size: f.Size},
	}
	if err := c.c.Multipart(ctx, http.MethodPost, api+"/ticket/"+key+"/comment", parts, nil); err != nil {
		return fmt.Errorf("rt: attaching %s to ticket %s: %w", f.Name, key, err)
	}
	return nil
}

// State reads the ticket's status and owner. RT's default lifecycle has
// new, open and stalled (active), resolved, rejected and deleted; a
// custom lifecycle's other statuses count as open, but "closed".
func (c *Connector) State(ctx context.Context, key string) (helpdesk.State, error) {
	if !isKey(key) {
		return helpdesk.State{}, fmt.Errorf("rt: reading a ticket: %q is not a ticket number", key)
	}
	var t struct {
		Status string          `json:"Status"`
		Owner  json.RawMessage `json:"Owner"`
	}
	q := url.Values{"fields[Owner]": {"Name"}}
	if err := c.c.JSON(ctx, http.MethodGet, api+"/ticket/"+key+"?"+q.Encode(), nil, &t); err != nil {
		return helpdesk.State{}, fmt.Errorf("rt: reading ticket %s: %w", key, err)
	}
	return helpdesk.State{Status: status(t.Status), Assignee: ownerName(t.Owner)}, nil
}

func status(s string) string {
	switch strings.ToLower(s) {
	case "resolved":
		return helpdesk.StatusResolved
	case "rejected", "deleted", "closed":
		return helpdesk.StatusClosed
	}
	return helpdesk.StatusOpen
}

// ownerName reads Owner, a user link ({"id": name}, with "Name" when
// asked for), or a bare string, cleaned; RT's Nobody is "".
func ownerName(raw json.RawMessage) string {
	var u struct {
		ID   scalar `json:"id"`
		Name string `json:"Name"`
	}
	var s string
	if json.Unmarshal(raw, &u) == nil {
		if s = u.Name; s == "" {
			s = string(u.ID)
		}
	} else {
		_ = json.Unmarshal(raw, &s)
	}
	if s = helpdesk.CleanName(s); s == "Nobody" {
		return ""
	}
	return s
}

// Link is the ticket's page in RT's web UI.
func (c *Connector) Link(key string) string {
	return c.web + "/Ticket/Display.html?id=" + url.QueryEscape(key)
}

// collection is a REST2 page of results.
type collection[T any] struct {
	Items    []T    `json:"items"`
	NextPage string `json:"next_page"`
}

// scalar is a value REST2 sends as a string in some answers and as a
// number in others (a ticket's id is "1" in a search and 1 in the ticket).
type scalar string

func (s *scalar) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var str string
	if json.Unmarshal(b, &str) == nil {
		*s = scalar(str)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("want a string or a number, not %.40s", b)
	}
	*s = scalar(n.String())
	return nil
}

// isKey accepts ticket numbers only: a key goes into request paths.
func isKey(k string) bool {
	if k == "" || len(k) > 18 {
		return false
	}
	for _, r := range k {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// sqlQuote escapes a value for a single-quoted TicketSQL string.
func sqlQuote(s string) string { return strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) }
