package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sondehq/sonde/collector/bundle"
	"github.com/sondehq/sonde/findings"

	"github.com/sondehq/sonde/collector/access"
	"github.com/sondehq/sonde/collector/diff"
	"github.com/sondehq/sonde/collector/store"
)

// pickSnapshot finds the snapshot a diff end names: a snapshot ID, an
// RFC 3339 time or a duration ago ("24h"), meaning the latest full snapshot
// captured then or before. An empty spec means def. A time older than the
// agent's first full snapshot (a machine enrolled five minutes ago asked
// for "10m") gives that first one, before def, and a note that says so.
func (a *API) pickSnapshot(ctx context.Context, agentID, spec string, def time.Time, skip int64) (_ *store.Snapshot, note string, _ error) {
	before := def
	if spec != "" {
		if id, err := strconv.ParseInt(spec, 10, 64); err == nil {
			s, err := a.Store.Snapshot(ctx, id)
			if err != nil {
				return nil, "", err
			}
			if s.AgentID != agentID {
				return nil, "", errorf(http.StatusBadRequest, "snapshot %d belongs to another agent", id)
			}
			return s, "", nil
		}
		if t, err := time.Parse(time.RFC3339, spec); err == nil {
			before = t
		} else if d, err := time.ParseDuration(spec); err == nil && d > 0 {
			before = time.Now().Add(-d)
		} else {
			return nil, "", errorf(http.StatusBadRequest, "%q is not a snapshot ID, an RFC 3339 time or a duration such as 24h", spec)
		}
	}
	// An import is never an enrolled agent's "latest" unless named by ID.
	f := store.SnapshotFilter{Kind: "full", Before: before, Delivered: store.Delivers(agentID), Limit: 2}
	if s, err := a.firstBut(ctx, agentID, f, skip); s != nil || err != nil {
		return s, "", err
	}
	if spec != "" && before.Before(def) {
		// Asked for a time before the first snapshot: the first one,
		// said so.
		f.Before, f.Oldest = def, true
		s, err := a.firstBut(ctx, agentID, f, skip)
		if s != nil {
			return s, fmt.Sprintf("no full snapshot as old as %s: compared from the oldest, captured %s", before.UTC().Format(time.RFC3339), s.CapturedAt.UTC().Format(time.RFC3339)), nil
		}
		if err != nil {
			return nil, "", err
		}
	}
	if spec == "" && skip != 0 {
		return nil, "", errorf(http.StatusNotFound, "agent %s has only one full snapshot: nothing to compare it with", agentID)
	}
	return nil, "", errorf(http.StatusNotFound, "agent %s has no full snapshot at or before %s", agentID, before.Format(time.RFC3339))
}

// firstBut returns the first snapshot f lists other than skip, with its
// data; nil when there is none.
func (a *API) firstBut(ctx context.Context, agentID string, f store.SnapshotFilter, skip int64) (*store.Snapshot, error) {
	list, err := a.Store.Snapshots(ctx, agentID, f)
	if err != nil {
		return nil, err
	}
	for _, s := range list {
		if s.ID != skip {
			return a.Store.Snapshot(ctx, s.ID)
		}
	}
	return nil, nil
}

func (a *API) getDiff(w http.ResponseWriter, r *http.Request) {
	ag, ok := a.resolve(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	v, err := a.Compare(r.Context(), ag.ID, q.Get("from"), q.Get("to"))
	if err != nil {
		a.fail(w, err)
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "text/plain") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		v.Diff.Text(w)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// Compare diffs two of an agent's full snapshots, each named by an ID, an
// RFC 3339 time or a duration ago; empty means the latest (to) and the one
// before it (from).
func (a *API) Compare(ctx context.Context, agentID, from, to string) (_ *DiffView, err error) {
	defer a.audit(ctx, access.ReadDiff, "agent="+agentID, &err)
	if err := allow(ctx, access.ReadDiff); err != nil {
		return nil, err
	}
	toSnap, toNote, err := a.pickSnapshot(ctx, agentID, to, time.Now(), 0)
	if err != nil {
		return nil, err
	}
	fromSnap, fromNote, err := a.pickSnapshot(ctx, agentID, from, toSnap.CapturedAt, toSnap.ID)
	if err != nil {
		return nil, err
	}
	d := diff.Compare(&fromSnap.Document, &toSnap.Document)
	ag, err := a.Store.Agent(ctx, agentID)
	if err != nil {
		return nil, err
	}
	var fs []findings.Finding
	for _, r := range a.rank(toSnap, &ag.Facts) {
		fs = append(fs, r.Finding)
	}
	d.Lead(bundle.Causes(fs))
	for _, n := range []string{fromNote, toNote} {
		if n != "" {
			d.Notes = append(d.Notes, n)
		}
	}
	return &DiffView{FromID: fromSnap.ID, ToID: toSnap.ID, FromImported: fromSnap.Imported, ToImported: toSnap.Imported, Diff: d}, nil
}

// DiffView is a diff with the IDs of the snapshots it compares.
type DiffView struct {
	FromID int64 `json:"from_id"`
	ToID   int64 `json:"to_id"`
	// FromImported and ToImported are set for a snapshot imported from a
	// document rather than delivered by the agent.
	FromImported bool       `json:"from_imported,omitempty"`
	ToImported   bool       `json:"to_imported,omitempty"`
	Diff         *diff.Diff `json:"diff"`
}
