package glpi

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"strconv"
	"strings"

	"github.com/sondehq/sonde/collector/helpdesk"
)

// maxLinked bounds the followups and documents Has reads of a ticket.
const maxLinked = 200

// Has looks for marker in the ticket's followups and in the file names of
// its documents (the first maxLinked of each).
func (c *Connector) Has(ctx context.Context, key, marker string) (bool, error) {
	id, err := ticketID(key)
	if err != nil {
		return false, err
	}
	rng := "?range=0-" + strconv.Itoa(maxLinked-1)
	var fups []struct {
		Content string `json:"content"`
	}
	if err := c.do(ctx, "reading the followups of ticket "+id, request{method: http.MethodGet, path: "/Ticket/" + id + "/ITILFollowup" + rng}, &fups); err != nil {
		return false, err
	}
	for _, f := range fups {
		// GLPI keeps rich text HTML-encoded: the marker may be escaped.
		if strings.Contains(html.UnescapeString(f.Content), marker) {
			return true, nil
		}
	}
	var links []struct {
		DocumentsID int64 `json:"documents_id"`
	}
	if err := c.do(ctx, "reading the documents of ticket "+id, request{method: http.MethodGet, path: "/Ticket/" + id + "/Document_Item" + rng}, &links); err != nil {
		return false, err
	}
	for _, l := range links {
		if l.DocumentsID <= 0 {
			continue
		}
		var doc struct {
			Filename string `json:"filename"`
		}
		docID := strconv.FormatInt(l.DocumentsID, 10)
		if err := c.do(ctx, "reading document "+docID+" of ticket "+id, request{method: http.MethodGet, path: "/Document/" + docID}, &doc); err != nil {
			return false, err
		}
		if strings.Contains(html.UnescapeString(doc.Filename), marker) {
			return true, nil
		}
	}
	return false, nil
}

// Ticket statuses (CommonITILObject).
const (
	statusSolved = 5
	statusClosed = 6
)

// status maps a GLPI ticket status to Sonde's words.
func status(s int) (string, error) {
	switch {
	case s >= 1 && s < statusSolved: // new, processing (assigned), processing (planned), pending
		return helpdesk.StatusOpen, nil
	case s == statusSolved:
		return helpdesk.StatusResolved, nil
	case s == statusClosed:
		return helpdesk.StatusClosed, nil
	}
	return "", fmt.Errorf("unknown ticket status %d", s)
}

// assigned is Ticket_User's type of an assigned technician.
const assigned = 2

// State reads the ticket's status and the login of its first assigned
// technician.
func (c *Connector) State(ctx context.Context, key string) (helpdesk.State, error) {
	id, err := ticketID(key)
	if err != nil {
		return helpdesk.State{}, err
	}
	var tk struct {
		Status int `json:"status"`
	}
	if err := c.do(ctx, "reading ticket "+id, request{method: http.MethodGet, path: "/Ticket/" + id}, &tk); err != nil {
		return helpdesk.State{}, err
	}
	st, err := status(tk.Status)
	if err != nil {
		return helpdesk.State{}, fmt.Errorf("glpi: ticket %s: %w", id, err)
	}
	var actors []struct {
		UsersID int64 `json:"users_id"`
		Type    int   `json:"type"`
	}
	if err := c.do(ctx, "reading the actors of ticket "+id, request{method: http.MethodGet, path: "/Ticket/" + id + "/Ticket_User"}, &actors); err != nil {
		return helpdesk.State{}, err
	}
	for _, a := range actors {
		if a.Type != assigned || a.UsersID <= 0 {
			continue
		}
		var u struct {
			Name string `json:"name"`
		}
		uid := strconv.FormatInt(a.UsersID, 10)
		if err := c.do(ctx, "reading user "+uid, request{method: http.MethodGet, path: "/User/" + uid}, &u); err != nil {
			return helpdesk.State{}, err
		}
		return helpdesk.State{Status: st, Assignee: helpdesk.CleanName(u.Name)}, nil
	}
	return helpdesk.State{Status: st}, nil
}
