package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sondehq/sonde/collector/access"
	"github.com/sondehq/sonde/collector/store"
)

// The doors a caller comes through, as the audit log names them.
const (
	DoorAPI    = "api"
	DoorUI     = "ui"
	DoorAlerts = "alerts"
)

// caller is who runs an operation, through which door, and whether the
// operation's audit entry has been written yet.
type caller struct {
	key   store.APIKey
	door  string
	trail *trail
}

// trail notes that an operation wrote the audit entry of a request, so
// that the door does not write one of its own.
type trail struct{ recorded bool }

type ctxKey struct{}

// WithCaller returns a context that acts as k coming through door: the
// operations of this package check k's role and record what k did.
func WithCaller(ctx context.Context, k store.APIKey, door string) context.Context {
	return context.WithValue(ctx, ctxKey{}, &caller{key: k, door: door, trail: &trail{}})
}

// WithKey is WithCaller through the API door.
func WithKey(ctx context.Context, k store.APIKey) context.Context {
	return WithCaller(ctx, k, DoorAPI)
}

// KeyFrom returns the API key of the caller in ctx.
func KeyFrom(ctx context.Context) (store.APIKey, bool) {
	c, ok := ctx.Value(ctxKey{}).(*caller)
	if !ok {
		return store.APIKey{}, false
	}
	return c.key, true
}

func callerFrom(ctx context.Context) *caller {
	if c, ok := ctx.Value(ctxKey{}).(*caller); ok {
		return c
	}
	return &caller{door: "unknown", trail: &trail{}}
}

// allow checks that the caller in ctx may call op at all.
func allow(ctx context.Context, op access.Op) error {
	k, _ := KeyFrom(ctx)
	return access.Allow(k, op)
}

// audit records a call of op on target with its outcome, when op is
// audited for the caller in ctx. Operations defer it with a pointer to
// their named error, so that every door — API, UI, the collector's own
// actors — leaves the same entry:
//
//	defer a.audit(ctx, access.TakeSnapshot, target, &err)
func (a *API) audit(ctx context.Context, op access.Op, target string, err *error) {
	var e error
	if err != nil {
		e = *err
	}
	a.auditAs(ctx, op.Name, op, target, outcome(e))
}

// auditAs records action (op's name, or a finer one such as
// "ticket.escalate") with a result already put in words.
func (a *API) auditAs(ctx context.Context, action string, op access.Op, target, result string) {
	c := callerFrom(ctx)
	if !access.Audited(c.key, op) {
		return
	}
	c.trail.recorded = true
	e := store.AuditEntry{At: time.Now(), Actor: Actor(c.key), Action: action, Target: target,
		Detail: result + " via " + c.door}
	// The entry is written even when the request's context is done: a
	// refused or abandoned call belongs on the record as much as one that
	// finished.
	if err := a.Store.Audit(context.WithoutCancel(ctx), e); err != nil {
		a.log().Error("audit log", "err", err, "entry", e)
	}
}

// Actor is how the audit log names an API key: name, role and key ID.
func Actor(k store.APIKey) string {
	role := k.Role
	if role == "" {
		role = "no role"
	}
	if k.ID == "" {
		return fmt.Sprintf("%s (%s)", k.Name, role)
	}
	return fmt.Sprintf("%s (%s, key %s)", k.Name, role, k.ID)
}

// outcome puts an operation's result in the audit log's words: "ok",
// "denied: why", or "failed (HTTP status): why".
func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	status, msg := Status(err)
	if status == http.StatusForbidden {
		return "denied: " + msg
	}
	return fmt.Sprintf("failed (%d): %s", status, msg)
}

// httpOutcome is outcome for a door that knows only the status it
// answered with.
func httpOutcome(status int) string {
	switch {
	case status < 400:
		return "ok"
	case status == http.StatusForbidden:
		return "denied"
	}
	return fmt.Sprintf("failed (%d): %s", status, strings.ToLower(http.StatusText(status)))
}

// Guard wraps a door's handler for op. The caller in the request's
// context must be allowed op, else deny answers (and the refusal is
// recorded). When op is audited and the handler answered without reaching
// the operation — a malformed request, an unknown agent — the entry is
// written here with the status of the answer, so every call of an audited
// operation leaves exactly one entry whatever the door.
func (a *API) Guard(op access.Op, deny func(http.ResponseWriter, *http.Request, error), h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if err := allow(ctx, op); err != nil {
			a.auditAs(ctx, op.Name, op, pathTarget(r), outcome(err))
			deny(w, r, err)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		h(sw, r)
		if !callerFrom(ctx).trail.recorded {
			a.auditAs(ctx, op.Name, op, pathTarget(r), httpOutcome(sw.status))
		}
	}
}

// pathTarget names the target of a request from its path values, for
// entries written by Guard: "agent=pc1", "ticket=INC-1", "id=7".
func pathTarget(r *http.Request) string {
	var target []string
	for _, v := range []struct{ name, as string }{{"agent", "agent"}, {"ref", "ticket"}, {"id", "id"}} {
		if s := r.PathValue(v.name); s != "" {
			if v.name == "id" && strings.HasPrefix(r.URL.Path, "/agents/") {
				v.as = "agent" // the UI's agent pages
			}
			target = append(target, v.as+"="+s)
		}
	}
	return strings.Join(target, " ")
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
	n, err := w.ResponseWriter.Write(b)
	if err != nil {
		return n, fmt.Errorf("writing the response: %w", err)
	}
	return n, nil
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
