// Package zendesk connects Sonde to Zendesk Support through its Ticketing
// API: tickets (in a group, the connector's queue, when one is named),
// private HTML comments, attachments uploaded first and then added to a
// comment by their upload token, and webhooks signed by Zendesk.
package zendesk

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/sondehq/sonde/collector/helpdesk"
)

func init() { helpdesk.Register("zendesk", New) }

// Connector is one Zendesk account, reached with an agent's e-mail and an
// API token.
type Connector struct {
	c         *helpdesk.Client
	group     int64 // 0: the account's default group
	fields    map[string]any
	maxUpload int64
}

// hooked is a Connector whose account signs its webhooks with the
// connector's webhook_secret (the webhook's signing secret); a connector
// without one is not Hooked, and its tickets are polled.
type hooked struct {
	*Connector
	secret []byte
}

var (
	_ helpdesk.Connector = (*Connector)(nil)
	_ helpdesk.Hooked    = hooked{}
)

// New makes a Zendesk connector: s.URL is the account
// (https://example.zendesk.com), s.User an agent's e-mail, s.Secret an API
// token, s.Queue the id of the group new tickets go to (optional).
// s.Fields are set on each new ticket: a numeric name is a custom field's
// id, "tags" are separated by commas or spaces, and any other name
// (priority, type) is a ticket property set as a string.
func New(s helpdesk.Settings) (helpdesk.Connector, error) {
	if s.User == "" || s.Secret == "" {
		return nil, errors.New("zendesk: user (an agent's e-mail) and secret (an API token) are required")
	}
	z := &Connector{maxUpload: s.MaxUpload}
	var err error
	if z.group, err = groupID(s.Queue); err != nil {
		return nil, err
	}
	if z.fields, err = extraFields(s.Fields); err != nil {
		return nil, err
	}
	user := s.User + "/token"
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + s.Secret))
	z.c, err = helpdesk.NewClient(s.URL, func(r *http.Request) { r.SetBasicAuth(user, s.Secret) }, s.Secret, basic)
	if err != nil {
		return nil, fmt.Errorf("zendesk: %w", err)
	}
	if s.WebhookSecret != "" {
		return hooked{Connector: z, secret: []byte(s.WebhookSecret)}, nil
	}
	return z, nil
}

func groupID(queue string) (int64, error) {
	if queue == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(queue, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("zendesk: queue %q: want a group's numeric id", queue)
	}
	return id, nil
}

func extraFields(in map[string]string) (map[string]any, error) {
	out := map[string]any{}
	var custom []map[string]any
	for k, v := range in {
		if id, err := strconv.ParseInt(k, 10, 64); err == nil {
			custom = append(custom, map[string]any{"id": id, "value": v})
			continue
		}
		switch k {
		case "subject", "comment", "group_id", "external_id", "custom_fields":
			return nil, fmt.Errorf("zendesk: fields: %s is set by Sonde", k)
		case "tags":
			out[k] = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
		default:
			out[k] = v
		}
	}
	if custom != nil {
		out["custom_fields"] = custom
	}
	return out, nil
}

// Open creates a ticket whose subject carries the marker and whose
// external_id is the marker, which Find looks up.
func (z *Connector) Open(ctx context.Context, t helpdesk.NewTicket) (string, error) {
	body := t.Text
	if strings.TrimSpace(body) == "" {
		body = "Opened by Sonde." // Zendesk refuses a ticket without a description
	}
	ticket := map[string]any{"subject": t.Subject(), "comment": map[string]any{"body": body}, "external_id": t.Marker}
	group := z.group
	if t.Queue != "" {
		var err error
		if group, err = groupID(t.Queue); err != nil {
			return "", err
		}
	}
	if group != 0 {
		ticket["group_id"] = group
	}
	for k, v := range z.fields {
		ticket[k] = v
	}
	var out struct {
		Ticket struct {
			ID int64 `json:"id"`
		} `json:"ticket"`
	}
	if err := z.c.JSON(ctx, http.MethodPost, "/api/v2/tickets.json", map[string]any{"ticket": ticket}, &out); err != nil {
		return "", fmt.Errorf("zendesk: opening a ticket: %w", err)
	}
	if out.Ticket.ID <= 0 {
		return "", errors.New("zendesk: opening a ticket: the answer names no ticket id")
	}
	return strconv.FormatInt(out.Ticket.ID, 10), nil
}

// Find lists the tickets whose external_id is the marker: unlike the
// search API, whose index lags new tickets by minutes, the list is
// current.
func (z *Connector) Find(ctx context.Context, t helpdesk.NewTicket) (string, error) {
	var out struct {
		Tickets []struct {
			ID         int64  `json:"id"`
			ExternalID string `json:"external_id"`
		} `json:"tickets"`
	}
	if err := z.c.JSON(ctx, http.MethodGet, "/api/v2/tickets.json?external_id="+url.QueryEscape(t.Marker), nil, &out); err != nil {
		return "", fmt.Errorf("zendesk: finding the ticket of %s: %w", t.Ref, err)
	}
	for _, tk := range out.Tickets {
		if tk.ExternalID == t.Marker {
			return strconv.FormatInt(tk.ID, 10), nil
		}
	}
	return "", nil
}

// Comment adds the summary as a private (agents only) HTML comment.
func (z *Connector) Comment(ctx context.Context, key string, s helpdesk.Summary) error {
	return z.update(ctx, key, map[string]any{"html_body": s.HTML(), "public": false}, "commenting on")
}

func (z *Connector) update(ctx context.Context, key string, comment map[string]any, doing string) error {
	path, err := ticketPath(key)
	if err != nil {
		return err
	}
	in := map[string]any{"ticket": map[string]any{"comment": comment}}
	if err := z.c.JSON(ctx, http.MethodPut, path+".json", in, nil); err != nil {
		return fmt.Errorf("zendesk: %s ticket %s: %w", doing, key, err)
	}
	return nil
}

// Attach uploads f's bytes as they are read (the upload wants its exact
// length), then adds a private comment carrying the upload's token, which
// attaches the file to the ticket.
func (z *Connector) Attach(ctx context.Context, key string, f helpdesk.File) error {
	if _, err := ticketPath(key); err != nil {
		return err
	}
	if err := helpdesk.CheckUpload(f, z.maxUpload); err != nil {
		return fmt.Errorf("zendesk: %w", err)
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("zendesk: attaching %s: %w", f.Name, err)
	}
	defer rc.Close()
	var out struct {
		Upload struct {
			Token string `json:"token"`
		} `json:"upload"`
	}
	if err := z.c.Send(ctx, http.MethodPost, "/api/v2/uploads.json?filename="+url.QueryEscape(f.Name), "application/binary", rc, f.Size, &out); err != nil {
		return fmt.Errorf("zendesk: uploading %s: %w", f.Name, err)
	}
	if out.Upload.Token == "" {
		return fmt.Errorf("zendesk: uploading %s: the answer has no upload token", f.Name)
	}
	comment := map[string]any{"body": "Attached " + f.Name, "uploads": []string{out.Upload.Token}, "public": false}
	return z.update(ctx, key, comment, "attaching "+f.Name+" to")
}

// Has looks for marker in the newest hundred comments (a step the courier
// asks about is recent) and in their attachments' file names.
func (z *Connector) Has(ctx context.Context, key, marker string) (bool, error) {
	path, err := ticketPath(key)
	if err != nil {
		return false, err
	}
	var out struct {
		Comments []struct {
			Body        string `json:"body"`
			HTMLBody    string `json:"html_body"`
			PlainBody   string `json:"plain_body"`
			Attachments []struct {
				FileName string `json:"file_name"`
			} `json:"attachments"`
		} `json:"comments"`
	}
	if err := z.c.JSON(ctx, http.MethodGet, path+"/comments.json?sort_order=desc&per_page=100", nil, &out); err != nil {
		return false, fmt.Errorf("zendesk: reading the comments of ticket %s: %w", key, err)
	}
	for _, c := range out.Comments {
		if strings.Contains(c.Body, marker) || strings.Contains(c.PlainBody, marker) || strings.Contains(c.HTMLBody, marker) {
			return true, nil
		}
		for _, a := range c.Attachments {
			if strings.Contains(a.FileName, marker) {
				return true, nil
			}
		}
	}
	return false, nil
}

// status maps Zendesk's ticket statuses to Sonde's words. It takes the
// API's values and the English names a webhook's {{ticket.status}}
// placeholder gives ("Solved", "On-hold").
func status(s string) (string, error) {
	switch strings.NewReplacer("-", "", " ", "").Replace(strings.ToLower(s)) {
	case "new", "open", "pending", "hold", "onhold":
		return helpdesk.StatusOpen, nil
	case "solved":
		return helpdesk.StatusResolved, nil
	case "closed":
		return helpdesk.StatusClosed, nil
	}
	return "", fmt.Errorf("status %q is not one of new, open, pending, hold, solved, closed", s)
}

// State reads the ticket's status, and its assignee's name side-loaded
// with it.
func (z *Connector) State(ctx context.Context, key string) (helpdesk.State, error) {
	path, err := ticketPath(key)
	if err != nil {
		return helpdesk.State{}, err
	}
	var out struct {
		Ticket struct {
			Status     string `json:"status"`
			AssigneeID *int64 `json:"assignee_id"`
		} `json:"ticket"`
		Users []user `json:"users"`
	}
	if err := z.c.JSON(ctx, http.MethodGet, path+".json?include=users", nil, &out); err != nil {
		return helpdesk.State{}, fmt.Errorf("zendesk: reading the state of ticket %s: %w", key, err)
	}
	var st helpdesk.State
	if st.Status, err = status(out.Ticket.Status); err != nil {
		return st, fmt.Errorf("zendesk: reading the state of ticket %s: %w", key, err)
	}
	if id := out.Ticket.AssigneeID; id != nil {
		if st.Assignee, err = z.userName(ctx, *id, out.Users); err != nil {
			return st, fmt.Errorf("zendesk: reading the assignee of ticket %s: %w", key, err)
		}
		st.Assignee = helpdesk.CleanName(st.Assignee)
	}
	return st, nil
}

type user struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// userName finds id among the side-loaded users, or asks for it.
func (z *Connector) userName(ctx context.Context, id int64, loaded []user) (string, error) {
	for _, u := range loaded {
		if u.ID == id {
			return u.Name, nil
		}
	}
	var out struct {
		User user `json:"user"`
	}
	if err := z.c.JSON(ctx, http.MethodGet, "/api/v2/users/"+strconv.FormatInt(id, 10)+".json", nil, &out); err != nil {
		return "", fmt.Errorf("reading user %d: %w", id, err)
	}
	return out.User.Name, nil
}

// Link is the ticket's page in the agent workspace.
func (z *Connector) Link(key string) string { return z.c.URL("/agent/tickets/" + url.PathEscape(key)) }

var validKey = regexp.MustCompile(`^[1-9][0-9]{0,18}$`)

func ticketPath(key string) (string, error) {
	if !validKey.MatchString(key) {
		return "", fmt.Errorf("zendesk: %q is not a ticket id", key)
	}
	return "/api/v2/tickets/" + key, nil
}

// Webhook verifies a call of the Zendesk webhook an admin pointed at
// Sonde: X-Zendesk-Webhook-Signature is the base64 HMAC-SHA256, keyed with
// the webhook's signing secret, of X-Zendesk-Webhook-Signature-Timestamp
// followed by the body. The webhook is fired by a trigger on ticket
// updates whose JSON body the admin writes as:
//
//	{"ticket_id": "{{ticket.id}}", "status": "{{ticket.status}}", "assignee": "{{ticket.assignee.name}}"}
//
// ticket_id may be a number or a string; status is the API's value or its
// English name; assignee is "" when unassigned.
func (h hooked) Webhook(hd http.Header, body []byte) (string, helpdesk.State, error) {
	var st helpdesk.State
	got, err := base64.StdEncoding.DecodeString(hd.Get("X-Zendesk-Webhook-Signature"))
	ts := hd.Get("X-Zendesk-Webhook-Signature-Timestamp")
	mac := hmac.New(sha256.New, h.secret)
	mac.Write([]byte(ts))
	mac.Write(body)
	if err != nil || ts == "" || !hmac.Equal(got, mac.Sum(nil)) {
		return "", st, helpdesk.ErrUnsigned
	}
	var ev struct {
		TicketID json.RawMessage `json:"ticket_id"`
		Status   string          `json:"status"`
		Assignee string          `json:"assignee"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return "", st, fmt.Errorf("zendesk webhook: decoding the body: %w", err)
	}
	key := strings.Trim(string(ev.TicketID), `"`)
	if !validKey.MatchString(key) {
		return "", st, fmt.Errorf("zendesk webhook: ticket_id %s is not a ticket id", ev.TicketID)
	}
	if st.Status, err = status(ev.Status); err != nil {
		return "", st, fmt.Errorf("zendesk webhook: ticket %s: %w", key, err)
	}
	st.Assignee = helpdesk.CleanName(ev.Assignee)
	return key, st, nil
}
