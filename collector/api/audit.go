package api

import (
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"

	"github.com/sondehq/sonde/collector/auditmark"
	"github.com/sondehq/sonde/collector/store"
)

// AuditView answers GET /api/v1/audit.
type AuditView struct {
	Entries []store.AuditEntry `json:"entries"`
	// Intact is false when the chain is broken; BrokenAt names the first
	// entry that does not follow from the one before.
	Intact   bool  `json:"intact"`
	BrokenAt int64 `json:"broken_at,omitempty"`
	// HeadID is the newest entry's ID (0: the log is empty).
	HeadID int64 `json:"head_id"`
	// Checkpoint is the latest signed checkpoint of the log's head, kept
	// outside the database (package auditmark); nil when there is none.
	// The chain alone cannot show its newest rows deleted; the checkpoint
	// can.
	Checkpoint *auditmark.Checkpoint `json:"checkpoint,omitempty"`
	// CheckpointOK: the checkpoint verifies with the collector's
	// checkpoint key and the log still holds its entry with its hash.
	CheckpointOK bool `json:"checkpoint_ok"`
	// Truncated: the checkpoint's entry is gone, the newest rows deleted.
	Truncated bool `json:"truncated,omitempty"`
	// CheckpointProblem says why CheckpointOK is false.
	CheckpointProblem string `json:"checkpoint_problem,omitempty"`
	// AnchorID and AnchorHash answer ?anchor=ID, for an anchor kept
	// elsewhere: the hash that entry has now, empty when there is no such
	// entry.
	AnchorID   int64  `json:"anchor_id,omitempty"`
	AnchorHash string `json:"anchor_hash,omitempty"`
}

func (a *API) getAudit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	limit := 100
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, http.StatusBadRequest, "limit must be a number from 1 to 10000")
			return
		}
		limit = n
	}
	var v AuditView
	if s := r.URL.Query().Get("anchor"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "anchor must be an audit entry ID")
			return
		}
		v.AnchorID = n
	}
	entries, broken, err := a.Store.AuditLog(ctx, limit)
	if err != nil {
		a.fail(w, err)
		return
	}
	if entries == nil {
		entries = []store.AuditEntry{}
	}
	v.Entries, v.Intact, v.BrokenAt = entries, broken == 0, broken
	if v.HeadID, _, err = a.Store.AuditHead(ctx); err != nil {
		a.fail(w, err)
		return
	}
	if v.AnchorID != 0 {
		h, err := a.Store.AuditHash(ctx, v.AnchorID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			a.fail(w, err)
			return
		}
		v.AnchorHash = hex.EncodeToString(h)
	}
	if a.Checkpoints.Path == "" {
		v.CheckpointProblem = "this collector keeps no audit checkpoints"
		writeJSON(w, http.StatusOK, v)
		return
	}
	c, err := a.Checkpoints.Latest()
	switch {
	case errors.Is(err, auditmark.ErrNone):
		v.CheckpointProblem = err.Error()
	case errors.Is(err, auditmark.ErrSignature):
		v.Checkpoint, v.CheckpointProblem = &c, err.Error()
	case err != nil:
		a.Log.Error("reading the latest audit checkpoint", "err", err)
		v.CheckpointProblem = "the latest audit checkpoint cannot be read: " + err.Error()
	default:
		st, err := auditmark.Check(ctx, a.Store, c.EntryID, c.HashBytes())
		if err != nil {
			a.fail(w, err)
			return
		}
		v.Checkpoint, v.CheckpointOK, v.Truncated = &c, st.OK(), st.Truncated
		if err := st.Err(c.String()); err != nil {
			v.CheckpointProblem = err.Error()
		}
	}
	writeJSON(w, http.StatusOK, v)
}
