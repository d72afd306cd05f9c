// Package jira connects Sonde to Jira Service Management Cloud through the
// Jira Cloud platform REST API v3: issues in a project (the connector's
// queue is the project key), comments and descriptions in the Atlassian
// Document Format, attachments as multipart uploads, and admin webhooks
// signed with a secret.
package jira

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"unicode"

	"github.com/sondehq/sonde/collector/helpdesk"
)

func init() { helpdesk.Register("jira", New) }

// maxSummary is the length Jira allows an issue's summary.
const maxSummary = 255

// Connector is one Jira site and project, reached with an account's
// e-mail and API token.
type Connector struct {
	c         *helpdesk.Client
	project   string
	issueType string
	fields    map[string]any
	maxUpload int64
}

// hooked is a Connector whose site signs its webhooks with the connector's
// webhook_secret; a connector without one is not Hooked, and its issues
// are polled.
type hooked struct {
	*Connector
	secret []byte
}

var (
	_ helpdesk.Connector = (*Connector)(nil)
	_ helpdesk.Hooked    = hooked{}
)

// New makes a Jira connector: s.URL is the site (https://example.atlassian.net),
// s.User the account's e-mail, s.Secret its API token, s.Queue the project
// key. s.Fields are set on each new issue: "issuetype" names the issue
// type (Task by default), "priority" a priority by name, "labels" labels
// separated by commas or spaces, and any other (customfield_10010) is set
// as a string.
func New(s helpdesk.Settings) (helpdesk.Connector, error) {
	if s.User == "" || s.Secret == "" {
		return nil, errors.New("jira: user (the account's e-mail) and secret (its API token) are required")
	}
	if s.Queue == "" {
		return nil, errors.New("jira: queue (the project key new issues open in) is required")
	}
	fields, issueType, err := extraFields(s.Fields)
	if err != nil {
		return nil, err
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(s.User+":"+s.Secret))
	c, err := helpdesk.NewClient(s.URL, func(r *http.Request) {
		r.Header.Set("Authorization", basic)
		// Jira refuses a multipart upload without this header (its guard
		// against cross-site requests); it is harmless on the others.
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			r.Header.Set("X-Atlassian-Token", "no-check")
		}
	}, s.Secret, basic)
	if err != nil {
		return nil, fmt.Errorf("jira: %w", err)
	}
	j := &Connector{c: c, project: s.Queue, issueType: issueType, fields: fields, maxUpload: s.MaxUpload}
	if s.WebhookSecret != "" {
		return hooked{Connector: j, secret: []byte(s.WebhookSecret)}, nil
	}
	return j, nil
}

func extraFields(in map[string]string) (map[string]any, string, error) {
	out, issueType := map[string]any{}, "Task"
	for k, v := range in {
		switch k {
		case "issuetype":
			issueType = v
		case "project", "summary", "description":
			return nil, "", fmt.Errorf("jira: fields: %s is set by Sonde", k)
		case "priority":
			out[k] = map[string]string{"name": v}
		case "labels":
			out[k] = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
		default:
			out[k] = v
		}
	}
	return out, issueType, nil
}

// Open creates an issue whose summary carries the marker.
func (j *Connector) Open(ctx context.Context, t helpdesk.NewTicket) (string, error) {
	fields := map[string]any{
		"project":     map[string]string{"key": j.projectOf(t)},
		"summary":     t.SubjectWithin(maxSummary),
		"issuetype":   map[string]string{"name": j.issueType},
		"description": plainDoc(t.Text),
	}
	for k, v := range j.fields {
		fields[k] = v
	}
	var out struct {
		Key string `json:"key"`
	}
	if err := j.c.JSON(ctx, http.MethodPost, "/rest/api/3/issue", map[string]any{"fields": fields}, &out); err != nil {
		return "", fmt.Errorf("jira: opening an issue: %w", err)
	}
	if !validKey.MatchString(out.Key) {
		return "", fmt.Errorf("jira: opening an issue: the answer names no issue key (%q)", out.Key)
	}
	return out.Key, nil
}

func (j *Connector) projectOf(t helpdesk.NewTicket) string {
	if t.Queue != "" {
		return t.Queue
	}
	return j.project
}

// Find searches the project's summaries for the marker as a phrase, and
// keeps an issue only if its summary carries "[marker]" exactly (a text
// search matches words, not strings). Jira's search is eventually
// consistent: an issue opened a few seconds ago may not be found yet.
func (j *Connector) Find(ctx context.Context, t helpdesk.NewTicket) (string, error) {
	jql := "project = " + jqlString(j.projectOf(t)) + " AND summary ~ " + jqlString(jqlString(t.Marker))
	in := map[string]any{"jql": jql, "fields": []string{"summary"}, "maxResults": 20}
	var out struct {
		Issues []struct {
			Key    string `json:"key"`
			Fields struct {
				Summary string `json:"summary"`
			} `json:"fields"`
		} `json:"issues"`
	}
	if err := j.c.JSON(ctx, http.MethodPost, "/rest/api/3/search/jql", in, &out); err != nil {
		return "", fmt.Errorf("jira: finding the issue of %s: %w", t.Ref, err)
	}
	for _, is := range out.Issues {
		if strings.Contains(is.Fields.Summary, "["+t.Marker+"]") {
			return is.Key, nil
		}
	}
	return "", nil
}

var jqlEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// jqlString quotes s as a JQL string; quoted twice, the inner quotes make
// a text search look for a phrase.
func jqlString(s string) string { return `"` + jqlEscaper.Replace(s) + `"` }

// Comment adds the summary as an internal comment (agents only, not on the
// customer portal) in ADF.
func (j *Connector) Comment(ctx context.Context, key string, s helpdesk.Summary) error {
	path, err := issuePath(key)
	if err != nil {
		return err
	}
	in := map[string]any{
		"body":       summaryDoc(s),
		"properties": []any{map[string]any{"key": "sd.public.comment", "value": map[string]bool{"internal": true}}},
	}
	if err := j.c.JSON(ctx, http.MethodPost, path+"/comment", in, nil); err != nil {
		return fmt.Errorf("jira: commenting on %s: %w", key, err)
	}
	return nil
}

// Attach uploads f as the multipart field "file", streamed.
func (j *Connector) Attach(ctx context.Context, key string, f helpdesk.File) error {
	path, err := issuePath(key)
	if err != nil {
		return err
	}
	if err := helpdesk.CheckUpload(f, j.maxUpload); err != nil {
		return fmt.Errorf("jira: %w", err)
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("jira: attaching %s: %w", f.Name, err)
	}
	defer rc.Close()
	typ := f.Type
	if typ == "" {
		typ = "application/octet-stream"
	}
	var out []struct {
		Filename string `json:"filename"`
	}
	part := helpdesk.Part{Field: "file", FileName: f.Name, Type: typ, File: rc, Size: f.Size}
	if err := j.c.Multipart(ctx, http.MethodPost, path+"/attachments", []helpdesk.Part{part}, &out); err != nil {
		return fmt.Errorf("jira: attaching %s to %s: %w", f.Name, key, err)
	}
	if len(out) == 0 {
		return fmt.Errorf("jira: attaching %s to %s: the answer lists no attachment", f.Name, key)
	}
	return nil
}

// Has looks for marker in the text of the issue's comments and in its
// attachments' file names.
func (j *Connector) Has(ctx context.Context, key, marker string) (bool, error) {
	path, err := issuePath(key)
	if err != nil {
		return false, err
	}
	var out struct {
		Fields struct {
			Comment struct {
				Comments []struct {
					Body node `json:"body"`
				} `json:"comments"`
			} `json:"comment"`
			Attachment []struct {
				Filename string `json:"filename"`
			} `json:"attachment"`
		} `json:"fields"`
	}
	if err := j.c.JSON(ctx, http.MethodGet, path+"?fields=comment,attachment", nil, &out); err != nil {
		return false, fmt.Errorf("jira: reading the comments of %s: %w", key, err)
	}
	for _, a := range out.Fields.Attachment {
		if strings.Contains(a.Filename, marker) {
			return true, nil
		}
	}
	for _, c := range out.Fields.Comment.Comments {
		if strings.Contains(plain(c.Body), marker) {
			return true, nil
		}
	}
	return false, nil
}

// issueState is what both State and a webhook read of an issue.
type issueState struct {
	Status struct {
		Name           string `json:"name"`
		StatusCategory struct {
			Key string `json:"key"`
		} `json:"statusCategory"`
	} `json:"status"`
	Assignee *struct {
		DisplayName string `json:"displayName"`
	} `json:"assignee"`
}

// state maps Jira's status categories (new, indeterminate, done) to
// Sonde's words: done is resolved, except a status named Closed, which is
// closed; anything else is open.
func (f issueState) state() (helpdesk.State, error) {
	var st helpdesk.State
	cat := f.Status.StatusCategory.Key
	switch {
	case cat == "" && f.Status.Name == "":
		return st, errors.New("the issue has no status")
	case strings.EqualFold(f.Status.Name, "Closed"):
		st.Status = helpdesk.StatusClosed
	case cat == "done":
		st.Status = helpdesk.StatusResolved
	default:
		st.Status = helpdesk.StatusOpen
	}
	if f.Assignee != nil {
		st.Assignee = helpdesk.CleanName(f.Assignee.DisplayName)
	}
	return st, nil
}

// State reads the issue's status and assignee.
func (j *Connector) State(ctx context.Context, key string) (helpdesk.State, error) {
	path, err := issuePath(key)
	if err != nil {
		return helpdesk.State{}, err
	}
	var out struct {
		Fields issueState `json:"fields"`
	}
	if err := j.c.JSON(ctx, http.MethodGet, path+"?fields=status,assignee", nil, &out); err != nil {
		return helpdesk.State{}, fmt.Errorf("jira: reading the state of %s: %w", key, err)
	}
	st, err := out.Fields.state()
	if err != nil {
		return st, fmt.Errorf("jira: reading the state of %s: %w", key, err)
	}
	return st, nil
}

// Link is the issue's page.
func (j *Connector) Link(key string) string { return j.c.URL("/browse/" + url.PathEscape(key)) }

// validKey is an issue key (OPS-12) or id (10042), as Jira names issues:
// a project key of at most 64 characters (Jira's default limit is 10)
// and a number of at most 18 digits, so that a key from a webhook call
// stays within what a Sonde ticket takes as its link.
var validKey = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_]{0,63}-[0-9]{1,18}|[0-9]{1,18})$`)

func issuePath(key string) (string, error) {
	if !validKey.MatchString(key) {
		return "", fmt.Errorf("jira: %q is not an issue key", key)
	}
	return "/rest/api/3/issue/" + key, nil
}

// Webhook verifies an admin webhook's X-Hub-Signature (sha256= and the
// hex HMAC-SHA256 of the body, keyed with the webhook's secret) and reads
// the issue's key and state from its jira:issue_* event.
func (h hooked) Webhook(hd http.Header, body []byte) (string, helpdesk.State, error) {
	got, ok := strings.CutPrefix(hd.Get("X-Hub-Signature"), "sha256=")
	mac := hmac.New(sha256.New, h.secret)
	mac.Write(body)
	want := hex.EncodeToString(mac.Sum(nil))
	if !ok || !hmac.Equal([]byte(strings.ToLower(got)), []byte(want)) {
		return "", helpdesk.State{}, helpdesk.ErrUnsigned
	}
	var ev struct {
		Issue struct {
			Key    string     `json:"key"`
			Fields issueState `json:"fields"`
		} `json:"issue"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return "", helpdesk.State{}, fmt.Errorf("jira webhook: decoding the event: %w", err)
	}
	if !validKey.MatchString(ev.Issue.Key) {
		return "", helpdesk.State{}, errors.New("jira webhook: the event names no issue")
	}
	st, err := ev.Issue.Fields.state()
	if err != nil {
		return "", st, fmt.Errorf("jira webhook: %s: %w", ev.Issue.Key, err)
	}
	return ev.Issue.Key, st, nil
}
