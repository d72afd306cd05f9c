// Package redmine is the connector for Redmine's REST API (JSON): issues in
// a project, notes for comments, and files sent to /uploads.json and then
// attached to the issue by their token.
package redmine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sondehq/sonde/collector/helpdesk"
)

func init() { helpdesk.Register("redmine", New) }

// Connector speaks to one Redmine with one user's API key.
type Connector struct {
	c         *helpdesk.Client
	project   string         // the project identifier (or id) issues open in
	fields    map[string]any // set on each new issue: tracker_id, priority_id...
	custom    []customField
	markdown  bool         // the Redmine renders CommonMark, not Textile
	resolved  map[int]bool // status ids that mean resolved; nil: the one named "Resolved"
	maxUpload int64

	mu        sync.Mutex // guards closed and readAt
	closed    map[int]bool
	readAt    time.Time
	statusTTL time.Duration // how long the statuses read are trusted
}

var _ helpdesk.Connector = (*Connector)(nil)

type customField struct {
	ID    int    `json:"id"`
	Value string `json:"value"`
}

var (
	cfName = regexp.MustCompile(`^cf_([1-9][0-9]{0,8})$`)
	number = regexp.MustCompile(`^[0-9]{1,10}$`)
)

// New makes a connector from s: s.URL is the Redmine's base address,
// s.Secret a user's API key, s.Queue the project's identifier. Among
// s.Fields, tracker_id, priority_id and the like are set on new issues,
// cf_N sets custom field N, text_formatting (textile, markdown or
// common_mark) picks the comments' markup, and resolved_status_ids (a
// comma list) names the statuses that mean resolved when they are not
// the one called "Resolved".
func New(s helpdesk.Settings) (helpdesk.Connector, error) {
	if s.Secret == "" {
		return nil, errors.New("redmine: secret: give the API key of the user Sonde acts as (My account → API access key)")
	}
	c, err := helpdesk.NewClient(s.URL, func(r *http.Request) { r.Header.Set("X-Redmine-API-Key", s.Secret) }, s.Secret)
	if err != nil {
		return nil, fmt.Errorf("redmine: %w", err)
	}
	rc := &Connector{c: c, project: s.Queue, fields: map[string]any{}, maxUpload: s.MaxUpload, statusTTL: 10 * time.Minute}
	if rc.maxUpload <= 0 {
		rc.maxUpload = helpdesk.DefaultMaxUpload
	}
	for k, v := range s.Fields {
		if err := rc.field(k, strings.TrimSpace(v)); err != nil {
			return nil, fmt.Errorf("redmine: fields: %s: %w", k, err)
		}
	}
	return rc, nil
}

// field takes one of Settings.Fields.
func (rc *Connector) field(k, v string) error {
	switch m := cfName.FindStringSubmatch(k); {
	case k == "text_formatting":
		switch v {
		case "", "textile":
		case "markdown", "common_mark":
			rc.markdown = true
		default:
			return fmt.Errorf("%q: want textile, markdown or common_mark", v)
		}
	case k == "resolved_status_ids":
		rc.resolved = map[int]bool{}
		for _, id := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(id))
			if err != nil || n <= 0 {
				return fmt.Errorf("%q: want status ids separated by commas", v)
			}
			rc.resolved[n] = true
		}
	case m != nil:
		id, _ := strconv.Atoi(m[1])
		rc.custom = append(rc.custom, customField{ID: id, Value: v})
	case k == "project_id" || k == "subject" || k == "description" || k == "custom_fields" || k == "uploads":
		return errors.New("set by the connector (use queue: for the project)")
	case strings.HasSuffix(k, "_id") && number.MatchString(v):
		n, _ := strconv.Atoi(v)
		rc.fields[k] = n
	default:
		rc.fields[k] = v
	}
	return nil
}

// issue is what Redmine says of one issue, as far as Sonde reads it.
type issue struct {
	ID      int    `json:"id"`
	Subject string `json:"subject"`
	Status  struct {
		ID       int    `json:"id"`
		Name     string `json:"name"`
		IsClosed *bool  `json:"is_closed"` // since Redmine 5.0
	} `json:"status"`
	AssignedTo *struct {
		Name string `json:"name"`
	} `json:"assigned_to"`
	Journals []struct {
		Notes string `json:"notes"`
	} `json:"journals"`
	Attachments []struct {
		Filename string `json:"filename"`
	} `json:"attachments"`
}

// maxSubject is the length Redmine allows a subject, in characters.
const maxSubject = 255

// Open creates an issue in t.Queue, or the connector's project.
func (rc *Connector) Open(ctx context.Context, t helpdesk.NewTicket) (string, error) {
	project := t.Queue
	if project == "" {
		project = rc.project
	}
	if project == "" {
		return "", errors.New("redmine: opening an issue: no project (set queue: to the project's identifier)")
	}
	if extra := len([]rune(t.Subject())) - maxSubject; extra > 0 {
		r := []rune(t.Title)
		t.Title = string(r[:max(len(r)-extra-1, 0)]) + "…"
	}
	in := map[string]any{}
	for k, v := range rc.fields {
		in[k] = v
	}
	in["project_id"], in["subject"], in["description"] = project, t.Subject(), t.Text
	if len(rc.custom) > 0 {
		in["custom_fields"] = rc.custom
	}
	var out struct{ Issue issue }
	if err := rc.c.JSON(ctx, http.MethodPost, "/issues.json", map[string]any{"issue": in}, &out); err != nil {
		return "", fmt.Errorf("redmine: opening an issue: %w", err)
	}
	if out.Issue.ID <= 0 {
		return "", errors.New("redmine: opening an issue: the answer has no issue id")
	}
	return strconv.Itoa(out.Issue.ID), nil
}

// Find looks for the issue whose subject carries t.Marker, open or not,
// with Redmine's "contains" filter (subject=~text, tokenized on spaces),
// and keeps only subjects that end with the marker in its brackets, so
// that "sonde:SND-7" does not find SND-70's issue.
func (rc *Connector) Find(ctx context.Context, t helpdesk.NewTicket) (string, error) {
	project := t.Queue
	if project == "" {
		project = rc.project
	}
	q := url.Values{"subject": {"~" + t.Marker}, "status_id": {"*"}, "sort": {"id"}, "limit": {"100"}}
	if project != "" {
		q.Set("project_id", project)
	}
	var out struct {
		Issues []issue `json:"issues"`
	}
	if err := rc.c.JSON(ctx, http.MethodGet, "/issues.json?"+q.Encode(), nil, &out); err != nil {
		return "", fmt.Errorf("redmine: finding the issue of %s: %w", t.Ref, err)
	}
	for _, is := range out.Issues {
		if strings.HasSuffix(is.Subject, "["+t.Marker+"]") {
			return strconv.Itoa(is.ID), nil
		}
	}
	return "", nil
}

// Comment adds the summary as a note, in the Redmine's markup.
func (rc *Connector) Comment(ctx context.Context, key string, s helpdesk.Summary) error {
	p, err := issuePath(key)
	if err != nil {
		return err
	}
	notes := s.Textile()
	if rc.markdown {
		notes = s.Markdown()
	}
	if err := rc.c.JSON(ctx, http.MethodPut, p, map[string]any{"issue": map[string]any{"notes": notes}}, nil); err != nil {
		return fmt.Errorf("redmine: commenting on issue %s: %w", key, err)
	}
	return nil
}

// Has reports whether a note of the issue carries marker, or an
// attachment is named marker (as Redmine would store that name).
func (rc *Connector) Has(ctx context.Context, key, marker string) (bool, error) {
	is, err := rc.read(ctx, key, "?include=journals,attachments")
	if err != nil {
		return false, err
	}
	for _, j := range is.Journals {
		if strings.Contains(j.Notes, marker) {
			return true, nil
		}
	}
	for _, a := range is.Attachments {
		if a.Filename == marker || a.Filename == storedName(marker) {
			return true, nil
		}
	}
	return false, nil
}

// Link is the issue's page.
func (rc *Connector) Link(key string) string { return rc.c.URL("/issues/" + url.PathEscape(key)) }

func (rc *Connector) read(ctx context.Context, key, query string) (issue, error) {
	p, err := issuePath(key)
	if err != nil {
		return issue{}, err
	}
	var out struct{ Issue issue }
	if err := rc.c.JSON(ctx, http.MethodGet, p+query, nil, &out); err != nil {
		return issue{}, fmt.Errorf("redmine: reading issue %s: %w", key, err)
	}
	return out.Issue, nil
}

// issuePath is the API path of the issue key, which must be an issue
// number.
func issuePath(key string) (string, error) {
	if !number.MatchString(key) {
		return "", fmt.Errorf("redmine: %q is not an issue number", key)
	}
	return "/issues/" + key + ".json", nil
}

var unsafeName = regexp.MustCompile(`[/?%*:|"'<>\n\r]+`)

// storedName is name as Redmine stores an attachment's file name: the
// part after the last slash or backslash, with the characters it refuses
// replaced by '_' (Attachment#sanitize_filename).
func storedName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	return unsafeName.ReplaceAllString(name, "_")
}
