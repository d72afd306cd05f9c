// Package helpdesk puts Sonde's evidence on the tickets of the helpdesk a
// customer already runs (Request Tracker, Redmine, Jira Service
// Management, Zendesk, ServiceNow, Zammad, GLPI, or any webhook), and
// reads their state back.
//
// A Connector speaks one helpdesk's API. The collector never calls one
// from a request: it writes each step (open, comment, attach) to a durable
// outbox in its store, and a Courier sends the steps in order, with
// retries and backoff. Each step carries a marker, a string that names the
// step uniquely and that the connector leaves on the helpdesk's ticket (in
// a comment's text, an attachment's file name, a ticket's subject), so a
// step whose answer was lost is found there instead of being sent twice.
package helpdesk

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Connector is one helpdesk's API. Every method is safe to call again
// after an error; none logs or returns the credentials it holds.
type Connector interface {
	// Open creates a ticket for t and returns the helpdesk's key for it.
	Open(ctx context.Context, t NewTicket) (string, error)
	// Find returns the key of the ticket an earlier Open made for the Sonde
	// ticket ref (its subject carries t.Marker), or "" when there is none.
	Find(ctx context.Context, t NewTicket) (string, error)
	// Comment adds the summary to the ticket key, in the helpdesk's own
	// markup where it has one, with s.Marker in its text.
	Comment(ctx context.Context, key string, s Summary) error
	// Attach uploads f to the ticket key as f.Name, streamed from f.Open:
	// never held whole in memory.
	Attach(ctx context.Context, key string, f File) error
	// Has reports whether a comment or an attachment carrying marker is on
	// the ticket key already.
	Has(ctx context.Context, key, marker string) (bool, error)
	// State reads the ticket's state, mapped to Sonde's words.
	State(ctx context.Context, key string) (State, error)
	// Link is the address of the ticket key in the helpdesk's own UI.
	Link(key string) string
}

// NewTicket is what Open needs.
type NewTicket struct {
	Ref    string // the Sonde ticket's reference
	Marker string // to put in the subject, so that Find finds it
	Title  string
	Text   string // plain text: what Sonde knows, and a link back
	Queue  string // queue, project or group; "" means the connector's own
}

// Subject is the subject a connector gives the ticket: the title with the
// marker, which Find looks for.
func (t NewTicket) Subject() string { return t.Title + " [" + t.Marker + "]" }

// File is an attachment. Open is called once per attempt.
type File struct {
	Name   string // carries the step's marker
	Type   string // MIME type
	Size   int64
	SHA256 string // hex
	Open   func() (io.ReadCloser, error)
}

// State is a helpdesk ticket's state in Sonde's words.
type State struct {
	Status   string // "open", "resolved" or "closed"
	Assignee string // the helpdesk's user name, "" when unassigned
}

// Statuses a connector maps its helpdesk's states to.
const (
	StatusOpen     = "open"
	StatusResolved = "resolved"
	StatusClosed   = "closed"
)

// ErrUnsupported is returned by connectors for what their helpdesk cannot
// do (a webhook cannot say whether it received something, nor a state).
var ErrUnsupported = errors.New("not supported by this helpdesk")

// StatusError is a helpdesk's answer that is not a success. Its text has
// the method, the path (never the query, which may carry a key) and a
// short, credential-free excerpt of the answer.
type StatusError struct {
	Op         string // e.g. "POST /REST/2.0/ticket"
	Code       int
	Excerpt    string
	RetryAfter time.Duration // from a Retry-After header, 0 if none
}

func (e *StatusError) Error() string {
	s := e.Op + ": HTTP " + strconv.Itoa(e.Code)
	if e.Excerpt != "" {
		s += ": " + e.Excerpt
	}
	return s
}

// Hooked is a connector whose helpdesk calls back when a ticket changes.
// The collector serves POST /api/v1/helpdesks/{name}/webhook and hands each
// call to Webhook, body read already (at most MaxAnswer bytes); tickets of
// connectors that are not Hooked are polled with State.
type Hooked interface {
	// Webhook verifies the call (a signature made with the connector's
	// webhook_secret, or a shared token, as the helpdesk signs) and
	// returns the ticket's key and its state now. An unsigned or
	// badly signed call is ErrUnsigned.
	Webhook(h http.Header, body []byte) (key string, st State, err error)
}

// ErrUnsigned is a webhook call that does not prove it comes from the
// helpdesk.
var ErrUnsigned = errors.New("the call is not signed with the webhook secret")
