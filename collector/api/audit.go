package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sondehq/sonde/collector/store"
)

// auditedReads are the reads that go on the record besides every change:
// who looked at which machine's data and took which bundle.
var auditedReads = map[string]bool{
	"GET /api/v1/snapshots/{id}":           true,
	"GET /api/v1/agents/{agent}/snapshots": true,
	"GET /api/v1/agents/{agent}/diff":      true,
	"GET /api/v1/bundles/{id}/download":    true,
	"GET /api/v1/audit":                    true,
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// record runs h and, for changes and audited reads, appends who did what
// to the audit log, with the answer's status (refused operations too).
func (a *API) record(k store.APIKey, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		h(sw, r)
		if r.Method == http.MethodGet && !auditedReads[r.Pattern] {
			return
		}
		var target []string
		for _, name := range []string{"agent", "ref", "id"} {
			if v := r.PathValue(name); v != "" {
				target = append(target, name+"="+v)
			}
		}
		e := store.AuditEntry{At: time.Now(), Actor: fmt.Sprintf("%s (%s, key %s)", k.Name, k.Role, k.ID),
			Action: r.Pattern, Target: strings.Join(target, " "), Detail: "HTTP " + strconv.Itoa(sw.status)}
		if err := a.Store.Audit(r.Context(), e); err != nil {
			a.Log.Error("audit log", "err", err, "entry", e)
		}
	}
}

// AuditView answers GET /api/v1/audit.
type AuditView struct {
	Entries []store.AuditEntry `json:"entries"`
	// Intact is false when the chain is broken; BrokenAt names the first
	// entry that does not follow from the one before.
	Intact   bool  `json:"intact"`
	BrokenAt int64 `json:"broken_at,omitempty"`
}

func (a *API) getAudit(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, http.StatusBadRequest, "limit must be a number from 1 to 10000")
			return
		}
		limit = n
	}
	entries, broken, err := a.Store.AuditLog(r.Context(), limit)
	if err != nil {
		a.fail(w, err)
		return
	}
	if entries == nil {
		entries = []store.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, AuditView{Entries: entries, Intact: broken == 0, BrokenAt: broken})
}
