package redmine

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sondehq/sonde/collector/helpdesk"
)

// State maps the issue's status: the ones of resolved_status_ids (or,
// without them, the status named "Resolved", which Redmine's default data
// makes an open status) are resolved, the other closed statuses closed,
// the rest open. The assignee is the name Redmine shows for the user.
func (rc *Connector) State(ctx context.Context, key string) (helpdesk.State, error) {
	is, err := rc.read(ctx, key, "")
	if err != nil {
		return helpdesk.State{}, err
	}
	st := helpdesk.State{Status: helpdesk.StatusOpen}
	if is.AssignedTo != nil {
		st.Assignee = helpdesk.CleanName(is.AssignedTo.Name)
	}
	if rc.resolved[is.Status.ID] || rc.resolved == nil && strings.EqualFold(strings.TrimSpace(is.Status.Name), "Resolved") {
		st.Status = helpdesk.StatusResolved
		return st, nil
	}
	closed := false
	if is.Status.IsClosed != nil {
		closed = *is.Status.IsClosed
	} else if closed, err = rc.isClosed(ctx, is.Status.ID); err != nil {
		return helpdesk.State{}, fmt.Errorf("redmine: the state of issue %s: %w", key, err)
	}
	if closed {
		st.Status = helpdesk.StatusClosed
	}
	return st, nil
}

// isClosed says whether a status closes issues, for a Redmine older than
// 5.0 whose issues do not say: it reads /issue_statuses.json, at most once
// in rc.statusTTL, or again for a status it has not seen.
func (rc *Connector) isClosed(ctx context.Context, id int) (bool, error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	closed, known := rc.closed[id]
	if known && time.Since(rc.readAt) < rc.statusTTL {
		return closed, nil
	}
	var out struct {
		IssueStatuses []struct {
			ID       int  `json:"id"`
			IsClosed bool `json:"is_closed"`
		} `json:"issue_statuses"`
	}
	if err := rc.c.JSON(ctx, http.MethodGet, "/issue_statuses.json", nil, &out); err != nil {
		return false, fmt.Errorf("reading the statuses: %w", err)
	}
	rc.closed, rc.readAt = map[int]bool{}, time.Now()
	for _, s := range out.IssueStatuses {
		rc.closed[s.ID] = s.IsClosed
	}
	return rc.closed[id], nil
}
