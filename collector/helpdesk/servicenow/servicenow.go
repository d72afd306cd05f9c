// Package servicenow connects Sonde to ServiceNow through its Table API
// (incidents, their work notes, the journal) and its Attachment API.
// ServiceNow has no signed webhooks to offer: the collector polls the
// incidents' states.
package servicenow

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/sondehq/sonde/collector/helpdesk"
)

func init() { helpdesk.Register("servicenow", New) }

// maxShort is the length of an incident's short description on a stock
// instance; ServiceNow cuts a longer one silently.
const maxShort = 160

// Connector is one ServiceNow instance, reached as a user (with the itil
// role, and the rights to read sys_journal_field and attachments).
type Connector struct {
	c         *helpdesk.Client
	group     string // assignment_group; "" leaves it to the instance's rules
	fields    map[string]string
	maxUpload int64
}

var _ helpdesk.Connector = (*Connector)(nil)

// New makes a ServiceNow connector: s.URL is the instance
// (https://example.service-now.com), s.User and s.Secret a user's name and
// password, s.Queue the assignment group new incidents go to (optional;
// its sys_id or name). s.Fields are set on each new incident by their
// column names (urgency, impact, category, u_custom).
func New(s helpdesk.Settings) (helpdesk.Connector, error) {
	if s.User == "" || s.Secret == "" {
		return nil, errors.New("servicenow: user and secret (the user's password) are required")
	}
	for k := range s.Fields {
		switch k {
		case "short_description", "description", "work_notes", "comments", "assignment_group":
			return nil, fmt.Errorf("servicenow: fields: %s is set by Sonde", k)
		}
	}
	basic := base64.StdEncoding.EncodeToString([]byte(s.User + ":" + s.Secret))
	c, err := helpdesk.NewClient(s.URL, func(r *http.Request) { r.SetBasicAuth(s.User, s.Secret) }, s.Secret, basic)
	if err != nil {
		return nil, fmt.Errorf("servicenow: %w", err)
	}
	return &Connector{c: c, group: s.Queue, fields: s.Fields, maxUpload: s.MaxUpload}, nil
}

// Open creates an incident whose short description carries the marker;
// its key is the incident's sys_id.
func (n *Connector) Open(ctx context.Context, t helpdesk.NewTicket) (string, error) {
	in := map[string]string{"short_description": t.SubjectWithin(maxShort), "description": t.Text}
	for k, v := range n.fields {
		in[k] = v
	}
	if group := cmp(t.Queue, n.group); group != "" {
		in["assignment_group"] = group
	}
	var out struct {
		Result struct {
			SysID string `json:"sys_id"`
		} `json:"result"`
	}
	if err := n.c.JSON(ctx, http.MethodPost, "/api/now/table/incident?sysparm_fields=sys_id,number", in, &out); err != nil {
		return "", fmt.Errorf("servicenow: opening an incident: %w", err)
	}
	if !validKey.MatchString(out.Result.SysID) {
		return "", fmt.Errorf("servicenow: opening an incident: the answer names no sys_id (%q)", out.Result.SysID)
	}
	return out.Result.SysID, nil
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Find looks for the incident whose short description holds
// "[marker]"; the table is queried directly, so a new incident is found
// at once.
func (n *Connector) Find(ctx context.Context, t helpdesk.NewTicket) (string, error) {
	want := "[" + t.Marker + "]"
	q, err := query("short_descriptionLIKE", want)
	if err != nil {
		return "", err
	}
	var out struct {
		Result []struct {
			SysID            string `json:"sys_id"`
			ShortDescription string `json:"short_description"`
		} `json:"result"`
	}
	if err := n.c.JSON(ctx, http.MethodGet, "/api/now/table/incident?sysparm_fields=sys_id,short_description&sysparm_limit=10&sysparm_query="+q, nil, &out); err != nil {
		return "", fmt.Errorf("servicenow: finding the incident of %s: %w", t.Ref, err)
	}
	for _, r := range out.Result {
		if strings.Contains(r.ShortDescription, want) && validKey.MatchString(r.SysID) {
			return r.SysID, nil
		}
	}
	return "", nil
}

// query is an encoded query of conditions, each a field and operator
// followed by a value, URL-escaped. '^' separates conditions and cannot be
// escaped in a value, so a value holding one is refused.
func query(pairs ...string) (string, error) {
	var conds []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.ContainsAny(pairs[i+1], "^\r\n") {
			return "", fmt.Errorf("servicenow: %q cannot be searched for: it holds '^' or a line break", pairs[i+1])
		}
		conds = append(conds, pairs[i]+pairs[i+1])
	}
	return url.QueryEscape(strings.Join(conds, "^")), nil
}

// codeEscaper keeps an agent's text from closing the [code] block early:
// inside it, "&#91;" still reads as "[".
var codeEscaper = strings.NewReplacer("[", "&#91;", "]", "&#93;")

// Comment adds the summary as a work note (agents only). ServiceNow
// renders HTML in a journal entry wrapped in [code]…[/code], unless the
// instance's glide.ui.security.allow_codetag is false, where the note
// shows the HTML as text: still readable, marker included.
func (n *Connector) Comment(ctx context.Context, key string, s helpdesk.Summary) error {
	path, err := incidentPath(key)
	if err != nil {
		return err
	}
	in := map[string]string{"work_notes": "[code]" + codeEscaper.Replace(s.HTML()) + "[/code]"}
	if err := n.c.JSON(ctx, http.MethodPatch, path+"?sysparm_fields=sys_id", in, nil); err != nil {
		return fmt.Errorf("servicenow: adding a work note to incident %s: %w", key, err)
	}
	return nil
}

// Attach sends f's bytes as the request's body, streamed with their exact
// length, to the Attachment API.
func (n *Connector) Attach(ctx context.Context, key string, f helpdesk.File) error {
	if _, err := incidentPath(key); err != nil {
		return err
	}
	if err := helpdesk.CheckUpload(f, n.maxUpload); err != nil {
		return fmt.Errorf("servicenow: %w", err)
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("servicenow: attaching %s: %w", f.Name, err)
	}
	defer rc.Close()
	typ := f.Type
	if typ == "" {
		typ = "application/octet-stream"
	}
	path := "/api/now/attachment/file?table_name=incident&table_sys_id=" + key + "&file_name=" + url.QueryEscape(f.Name)
	var out struct {
		Result struct {
			SysID string `json:"sys_id"`
		} `json:"result"`
	}
	if err := n.c.Send(ctx, http.MethodPost, path, typ, rc, f.Size, &out); err != nil {
		return fmt.Errorf("servicenow: attaching %s to incident %s: %w", f.Name, key, err)
	}
	if out.Result.SysID == "" {
		return fmt.Errorf("servicenow: attaching %s to incident %s: the answer names no attachment", f.Name, key)
	}
	return nil
}

// Has looks for marker in the incident's journal (work notes, comments),
// then in its attachments' file names. It checks the rows it is given:
// an instance may answer a query it cannot apply (one naming a field the
// user may not read, with glide.invalid_query.returns_no_rows false) with
// rows the query did not select, and a step must not pass for done.
func (n *Connector) Has(ctx context.Context, key, marker string) (bool, error) {
	if _, err := incidentPath(key); err != nil {
		return false, err
	}
	for _, look := range []struct{ what, table, of, text string }{
		{"journal", "/api/now/table/sys_journal_field", "element_id", "value"},
		{"attachments", "/api/now/attachment", "table_sys_id", "file_name"},
	} {
		q, err := query(look.of+"=", key, look.text+"LIKE", marker)
		if err != nil {
			return false, err
		}
		var out struct {
			Result []map[string]any `json:"result"`
		}
		path := look.table + "?sysparm_limit=1&sysparm_fields=" + look.of + "," + look.text + "&sysparm_query=" + q
		if err := n.c.JSON(ctx, http.MethodGet, path, nil, &out); err != nil {
			return false, fmt.Errorf("servicenow: reading the %s of incident %s: %w", look.what, key, err)
		}
		for _, r := range out.Result {
			of, _ := r[look.of].(string)
			text, _ := r[look.text].(string)
			if of == key && strings.Contains(text, marker) {
				return true, nil
			}
		}
	}
	return false, nil
}

// State reads the incident's state and assignee with both their values
// and display values, and maps the state's value: 6 (Resolved) is
// resolved, 7 (Closed) and 8 (Canceled) are closed, any other (1 New,
// 2 In Progress, 3 On Hold, an instance's own) is open.
func (n *Connector) State(ctx context.Context, key string) (helpdesk.State, error) {
	path, err := incidentPath(key)
	if err != nil {
		return helpdesk.State{}, err
	}
	type field struct {
		Value        string `json:"value"`
		DisplayValue string `json:"display_value"`
	}
	var out struct {
		Result struct {
			State      field `json:"state"`
			AssignedTo field `json:"assigned_to"`
		} `json:"result"`
	}
	if err := n.c.JSON(ctx, http.MethodGet, path+"?sysparm_fields=state,assigned_to&sysparm_display_value=all", nil, &out); err != nil {
		return helpdesk.State{}, fmt.Errorf("servicenow: reading the state of incident %s: %w", key, err)
	}
	st := helpdesk.State{Status: helpdesk.StatusOpen, Assignee: helpdesk.CleanName(out.Result.AssignedTo.DisplayValue)}
	switch out.Result.State.Value {
	case "":
		return st, fmt.Errorf("servicenow: reading the state of incident %s: the answer has no state", key)
	case "6":
		st.Status = helpdesk.StatusResolved
	case "7", "8":
		st.Status = helpdesk.StatusClosed
	}
	return st, nil
}

// Link is the incident's form inside the instance's navigation frame.
func (n *Connector) Link(key string) string {
	return n.c.URL("/nav_to.do?uri=" + url.QueryEscape("incident.do?sys_id="+key))
}

var validKey = regexp.MustCompile(`^[0-9a-f]{32}$`)

func incidentPath(key string) (string, error) {
	if !validKey.MatchString(key) {
		return "", fmt.Errorf("servicenow: %q is not an incident's sys_id", key)
	}
	return "/api/now/table/incident/" + key, nil
}
