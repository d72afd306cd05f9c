// Package api is the collector's HTTP API for L2 engineers and their tools,
// under /api/v1/, with API-key authentication and roles, plus the health
// endpoints /livez and /readyz.
package api

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sondehq/sonde/collector/access"
	"github.com/sondehq/sonde/collector/auditmark"
	"github.com/sondehq/sonde/collector/ingest"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/findings"
	"github.com/sondehq/sonde/protocol"
)

// Agents is the live side the API needs from the ingest server.
type Agents interface {
	Connected() map[string]ingest.Link
	RequestSnapshot(ctx context.Context, agentID string, probes []string) (int64, error)
}

// API serves /api/v1/.
type API struct {
	Store  store.Store
	Agents Agents
	Log    *slog.Logger
	// MaxWait caps how long a snapshot request may block; default 2 minutes.
	MaxWait time.Duration
	// Bundles builds and keeps diagnostic bundles.
	Bundles Bundler
	// Checkpoints are the audit log's signed checkpoints (package
	// auditmark): GET /api/v1/audit checks the log against the latest.
	// Zero when the collector keeps none.
	Checkpoints auditmark.File
	// Helpdesks are the customer's helpdesks tickets link to; nil for
	// none.
	Helpdesks Helpdesks

	limits limiter
	// asked limits the snapshots each agent is asked for (agentRate).
	asked limiter
}

// Handler returns the API's routes, /livez and /readyz included.
func (a *API) Handler() http.Handler {
	if a.Log == nil {
		a.Log = slog.Default()
	}
	if a.MaxWait == 0 {
		a.MaxWait = 2 * time.Minute
	}
	if a.Bundles.KB == nil {
		a.Bundles.KB, _ = findings.LoadKB("") // the embedded defaults always load
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.Handle("GET /api/v1/me", a.auth(access.WhoAmI, a.whoAmI))
	mux.Handle("GET /api/v1/agents", a.auth(access.ListAgents, a.listAgents))
	mux.Handle("GET /api/v1/agents/{agent}", a.auth(access.ReadAgent, a.getAgent))
	mux.Handle("POST /api/v1/agents/{agent}/snapshots", a.auth(access.TakeSnapshot, a.takeSnapshot))
	mux.Handle("GET /api/v1/agents/{agent}/snapshots", a.auth(access.ListSnapshots, a.listSnapshots))
	mux.Handle("GET /api/v1/snapshots/{id}", a.auth(access.ReadSnapshot, a.getSnapshot))
	mux.Handle("GET /api/v1/agents/{agent}/diff", a.auth(access.ReadDiff, a.getDiff))
	a.ticketRoutes(mux)
	a.helpdeskRoutes(mux)
	mux.Handle("GET /api/v1/audit", a.auth(access.ReadAudit, a.getAudit))
	a.bundleRoutes(mux)
	a.alertRoutes(mux)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path)
	})
	return mux
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.Store.Ping(ctx); err != nil {
		writeError(w, http.StatusServiceUnavailable, "store: %v", err)
		return
	}
	fmt.Fprintln(w, "ok")
}

// HashKey is how API keys are kept: they are 256 random bits, so a plain
// SHA-256 suffices.
func HashKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// Authenticate returns the API key record for key, or store.ErrNotFound.
func (a *API) Authenticate(ctx context.Context, key string) (store.APIKey, error) {
	return a.Store.APIKeyByHash(ctx, HashKey(key))
}

// auth lets a request through when it carries an API key that may call
// op (see Guard), acting as that key.
func (a *API) auth(op access.Op, h http.HandlerFunc) http.Handler {
	guarded := a.Guard(op, func(w http.ResponseWriter, _ *http.Request, err error) { a.fail(w, err) }, h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sonde"`)
			writeError(w, http.StatusUnauthorized, "missing API key: send Authorization: Bearer KEY")
			return
		}
		k, err := a.Authenticate(r.Context(), key)
		if errors.Is(err, store.ErrNotFound) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sonde", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "unknown API key")
			return
		}
		if err != nil {
			a.Log.Error("API key lookup", "err", err)
			writeError(w, http.StatusServiceUnavailable, "store unavailable")
			return
		}
		if !a.limits.allow(k.ID, time.Now()) {
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusTooManyRequests, "API key %q is over its rate limit (%d requests a second); retry shortly", k.Name, rateLimit)
			return
		}
		guarded(w, r.WithContext(WithKey(r.Context(), k)))
	})
}

// bearer returns the credentials of an Authorization header of the
// Bearer scheme, whose name is case-insensitive (RFC 9110, 11.1).
func bearer(h string) (string, bool) {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(h), " ")
	cred = strings.TrimSpace(cred)
	if !ok || !strings.EqualFold(scheme, "Bearer") || cred == "" {
		return "", false
	}
	return cred, true
}

func (a *API) log() *slog.Logger {
	if a.Log == nil {
		return slog.Default()
	}
	return a.Log
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// Error is the body of every error answer.
type Error struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, Error{Error: fmt.Sprintf(format, args...)})
}

// AgentView is an agent as the API shows it.
type AgentView struct {
	store.Agent
	Online         bool      `json:"online"`
	ConnectedSince time.Time `json:"connected_since,omitzero"`
	// Transport is how the agent is connected, while online: "quic", or
	// "tcp" where its network blocks UDP.
	Transport string `json:"transport,omitempty"`
}

func (a *API) view(ag store.Agent, live map[string]ingest.Link) AgentView {
	link, ok := live[ag.ID]
	return AgentView{Agent: ag, Online: ok, ConnectedSince: link.Since, Transport: link.Transport}
}

func (a *API) listAgents(w http.ResponseWriter, r *http.Request) {
	agents, err := a.Store.Agents(r.Context())
	if err != nil {
		a.fail(w, err)
		return
	}
	live := a.Agents.Connected()
	out := make([]AgentView, 0, len(agents))
	for _, ag := range agents {
		out = append(out, a.view(ag, live))
	}
	writeJSON(w, http.StatusOK, out)
}

// resolve finds the agent named in the request path.
func (a *API) resolve(w http.ResponseWriter, r *http.Request) (store.Agent, bool) {
	ag, err := a.FindAgent(r.Context(), r.PathValue("agent"))
	if err != nil {
		a.fail(w, err)
		return ag, false
	}
	return ag, true
}

// httpError is an error with the status it answers with.
type httpError struct {
	status int
	msg    string
	// retryAfter, when set, is sent as Retry-After (whole seconds).
	retryAfter time.Duration
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

// fail answers with err's status and message (see Status), logging what
// it does not show.
func (a *API) fail(w http.ResponseWriter, err error) {
	status, msg := Status(err)
	if he := (*httpError)(nil); errors.As(err, &he) && he.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(he.retryAfter.Seconds())), 10))
	}
	if status == http.StatusServiceUnavailable {
		a.Log.Error("store", "err", err)
	}
	writeError(w, status, "%s", msg)
}

// FindAgent finds the agent with the given ID or unique hostname.
func (a *API) FindAgent(ctx context.Context, name string) (store.Agent, error) {
	ag, err := a.Store.Agent(ctx, name)
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		return ag, err
	}
	agents, err := a.Store.Agents(ctx)
	if err != nil {
		return ag, err
	}
	var found []store.Agent
	for _, c := range agents {
		if strings.EqualFold(c.Facts.Hostname, name) {
			found = append(found, c)
		}
	}
	if len(found) > 1 {
		// A re-enrolled machine leaves its old identity behind: prefer the
		// one that is connected, if only one is.
		live := a.Agents.Connected()
		var online []store.Agent
		for _, c := range found {
			if _, ok := live[c.ID]; ok {
				online = append(online, c)
			}
		}
		if len(online) == 1 {
			found = online
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return ag, errorf(http.StatusNotFound, "no agent with ID or hostname %q", name)
	}
	ids := make([]string, len(found))
	for i, c := range found {
		ids[i] = c.ID
	}
	return ag, errorf(http.StatusConflict, "hostname %q is ambiguous: agents %s; use an ID", name, strings.Join(ids, ", "))
}

// SnapshotRequest is the body of POST /api/v1/agents/{agent}/snapshots.
type SnapshotRequest struct {
	Probes []string `json:"probes,omitempty"`
	// Processes names processes to find on the agent (the processes
	// probe lists them, with their command lines, beside its top lists):
	// at most protocol.MaxProcessNames, each a process or executable name.
	Processes []string `json:"processes,omitempty"`
	// Timeout is a Go duration ("30s"); default 30s.
	Timeout string `json:"timeout,omitempty"`
	// Fresh asks the agent to run the probes now, within its on-demand
	// budget; without it, an agent that ran the same probes seconds ago
	// answers with that run, captured when it was.
	Fresh bool `json:"fresh,omitempty"`
	// UserAgreed says the person at the machine agreed to heavy probes
	// (logs, software, storage health, the disk walk) on a battery below
	// the agent's floor, which holds them back otherwise (429 with a
	// Retry-After): set it only when they did, on the phone.
	UserAgreed bool `json:"user_agreed,omitempty"`
}

func (a *API) takeSnapshot(w http.ResponseWriter, r *http.Request) {
	ag, ok := a.resolve(w, r)
	if !ok {
		return
	}
	var req SnapshotRequest
	if r.ContentLength != 0 {
		if err := decode(w, r, &req); err != nil {
			a.fail(w, err)
			return
		}
	}
	timeout, err := parseTimeout(req.Timeout, a.MaxWait)
	if err != nil {
		a.fail(w, err)
		return
	}
	ctx := r.Context()
	if req.Fresh {
		ctx = ingest.WithFresh(ctx)
	}
	if req.UserAgreed {
		ctx = ingest.WithUserAgreed(ctx)
	}
	snap, shared, err := a.take(ctx, ag, req.Probes, req.Processes, timeout)
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, SnapshotAnswer{Snapshot: snap, Shared: shared})
}

// SnapshotAnswer is the answer to POST /api/v1/agents/{agent}/snapshots:
// the snapshot stored.
type SnapshotAnswer struct {
	*store.Snapshot
	// Shared says the snapshot was taken moments before for another
	// request: the machine was being asked for more than its limit (see
	// mayAsk), and it was recent enough to answer this one.
	Shared bool `json:"shared,omitempty"`
}

// TakeSnapshot asks a connected agent for a snapshot of the named probes
// (all when empty), and about the named processes (none when empty), and
// returns it once stored, saying whether it was shared: taken moments
// before for another request, the machine being asked for more than its
// limit (see recent). Its errors carry the HTTP status they answer with
// (see Status).
func (a *API) TakeSnapshot(ctx context.Context, ag store.Agent, probes, processes []string, timeout time.Duration) (_ *store.Snapshot, shared bool, _ error) {
	return a.take(ctx, ag, probes, processes, timeout)
}

// take is TakeSnapshot, saying whether the snapshot answered an earlier
// request too (shared: see recent).
func (a *API) take(ctx context.Context, ag store.Agent, probes, processes []string, timeout time.Duration) (_ *store.Snapshot, shared bool, err error) {
	defer a.audit(ctx, access.TakeSnapshot, agentTarget(ag), &err)
	if err := allow(ctx, access.TakeSnapshot); err != nil {
		return nil, false, err
	}
	if err := checkProbes(probes, ag.Probes); err != nil {
		return nil, false, errorf(http.StatusBadRequest, "%v", err)
	}
	if err := checkProcesses(processes, probes, ag.Probes); err != nil {
		return nil, false, errorf(http.StatusBadRequest, "%v", err)
	}
	if err := a.mayAsk(ag); err != nil {
		if len(processes) == 0 && !ingest.FreshFrom(ctx) {
			if snap, ok := a.recent(ctx, ag, probes); ok {
				return snap, true, nil
			}
		}
		return nil, false, err
	}
	if len(processes) > 0 {
		ctx = ingest.WithProcesses(ctx, processes)
	}
	ctx2, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	id, err := a.Agents.RequestSnapshot(ctx2, ag.ID, probes)
	var quiet *ingest.NotAnsweringError
	switch {
	case errors.Is(err, ingest.ErrOffline):
		seen := "never"
		if !ag.LastSeen.IsZero() {
			seen = ag.LastSeen.Format(time.RFC3339)
		}
		return nil, false, errorf(http.StatusServiceUnavailable, "agent %s (%s) is offline; last seen %s", ag.ID, ag.Facts.Hostname, seen)
	case errors.As(err, &quiet):
		// At once, not at the deadline: the agent has most likely died
		// without closing its connection, which is dropped within seconds.
		return nil, false, errorf(http.StatusGatewayTimeout, "agent %s (%s) is not answering (last heard %s ago)", ag.ID, ag.Facts.Hostname, ingest.Ago(quiet.Silent))
	case errors.Is(err, context.DeadlineExceeded):
		return nil, false, errorf(http.StatusGatewayTimeout, "agent %s did not deliver a snapshot within %s", ag.ID, timeout)
	case overBudget(err) != nil:
		return nil, false, a.overBudget(ctx, ag, overBudget(err))
	case err != nil:
		return nil, false, errorf(http.StatusBadGateway, "snapshot from agent %s failed: %v", ag.ID, err)
	}
	snap, err := a.Store.Snapshot(ctx, id)
	return snap, false, err
}

// mayAsk refuses a snapshot request to ag past the per-agent limit, which
// holds whichever keys ask.
func (a *API) mayAsk(ag store.Agent) error {
	if a.asked.allowAt(ag.ID, time.Now(), agentRate, agentBurst) {
		return nil
	}
	return &httpError{status: http.StatusTooManyRequests, retryAfter: time.Second,
		msg: fmt.Sprintf("agent %s (%s) is being asked for more than %d snapshots a second, from all keys together; retry shortly", ag.ID, ag.Facts.Hostname, agentRate)}
}

// shareFor is how old a snapshot taken on request may be to answer
// another request for the same probes when the machine is being asked
// for more than its limit: twice the agent's own reuse of a run
// (agent/client, 5 s), for a snapshot the agent answered from a run it
// reused arrives up to 5 s old. With the window only as long as the
// agent's, the newest stored snapshot was often just past it while the
// agent was being asked (2 of 12 of an engineer's requests refused under
// make bench-hammer).
const shareFor = 10 * time.Second

// recent returns the agent's latest full snapshot, when it was taken on
// request within shareFor and holds every probe named (when none is
// named, any such snapshot: it was of the agent's default probes or more).
func (a *API) recent(ctx context.Context, ag store.Agent, probes []string) (*store.Snapshot, bool) {
	latest, err := a.Store.Snapshots(ctx, ag.ID, store.SnapshotFilter{Kind: "full", Delivered: store.Delivers(ag.ID), Limit: 1})
	if err != nil || len(latest) == 0 || latest[0].RequestID == "" || time.Since(latest[0].CapturedAt) >= shareFor {
		return nil, false
	}
	snap, err := a.Store.Snapshot(ctx, latest[0].ID)
	if err != nil {
		return nil, false
	}
	have := make(map[string]bool, len(snap.Probes))
	for _, p := range snap.Probes {
		have[p.Name] = true
	}
	for _, name := range probes {
		if !have[name] {
			return nil, false
		}
	}
	return snap, true
}

// tooMany reports whether err is mayAsk's refusal.
func tooMany(err error) bool {
	var he *httpError
	return errors.As(err, &he) && he.status == http.StatusTooManyRequests
}

// overBudget returns the agent's refusal of a request over its on-demand
// budget in err, or nil.
func overBudget(err error) *protocol.Error {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Code == protocol.CodeTooMany {
		return pe
	}
	return nil
}

// overBudget is the answer to a request the agent refused over its
// on-demand budget, or held back on a low battery (its message says
// which): 429, with its Retry-After, saying which stored snapshot there is
// to use meanwhile.
func (a *API) overBudget(ctx context.Context, ag store.Agent, pe *protocol.Error) error {
	he := &httpError{status: http.StatusTooManyRequests, retryAfter: time.Duration(pe.RetryAfter) * time.Millisecond,
		msg: fmt.Sprintf("agent %s (%s): %s", ag.ID, ag.Facts.Hostname, pe.Message)}
	latest, err := a.Store.Snapshots(ctx, ag.ID, store.SnapshotFilter{Kind: "full", Delivered: store.Delivers(ag.ID), Limit: 1})
	if err == nil && len(latest) > 0 {
		he.msg += fmt.Sprintf("; or use the latest stored full snapshot, %d, captured %s ago (sonde show %d)",
			latest[0].ID, ingest.Ago(time.Since(latest[0].CapturedAt)), latest[0].ID)
	}
	return he
}

// Status returns the HTTP status and the message to show for an error of
// an operation: its own for operation errors and refusals, however they
// were wrapped, 404 for store.ErrNotFound, 503 for anything else (whose
// detail is for the log, not the user).
func Status(err error) (int, string) {
	var (
		he     *httpError
		denied *access.Denied
	)
	switch {
	case errors.As(err, &denied):
		return http.StatusForbidden, denied.Error()
	case errors.As(err, &he):
		return he.status, he.msg
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, err.Error()
	}
	return http.StatusServiceUnavailable, "store unavailable"
}

// checkProcesses refuses process names the protocol refuses, and names
// asked of a snapshot without the processes probe, which finds them.
func checkProcesses(names, probes, known []string) error {
	if len(names) == 0 {
		return nil
	}
	if len(names) > protocol.MaxProcessNames {
		return fmt.Errorf("%d process names, at most %d", len(names), protocol.MaxProcessNames)
	}
	for _, n := range names {
		if !protocol.ValidProcessName(n) {
			return fmt.Errorf("process name %q is not valid: 1 to %d bytes, no control characters or path separators (a name, not a path)", n, protocol.MaxProcessNameLen)
		}
	}
	if len(probes) > 0 && !contains(probes, "processes") {
		return errors.New("processes are asked for by name, but not the processes probe that finds them: add it to the probes, or name none")
	}
	if len(known) > 0 && !contains(known, "processes") {
		return errors.New("the agent has no processes probe to find processes by name")
	}
	return nil
}

// checkProbes refuses names that are malformed, named twice (agents
// refuse such requests) or that the agent does not have (when it told us
// which it has).
func checkProbes(asked, known []string) error {
	for i, p := range asked {
		if !protocol.ValidProbeName(p) {
			return fmt.Errorf("probe name %q is not valid", p)
		}
		if contains(asked[:i], p) {
			return fmt.Errorf("probe %s is named twice", p)
		}
		if len(known) > 0 && !contains(known, p) {
			return fmt.Errorf("unknown probe %q; this agent has: %s", p, strings.Join(known, ", "))
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (a *API) listSnapshots(w http.ResponseWriter, r *http.Request) {
	ag, ok := a.resolve(w, r)
	if !ok {
		return
	}
	f := store.SnapshotFilter{Kind: r.URL.Query().Get("kind")}
	if f.Kind != "" && f.Kind != "full" && f.Kind != "health" {
		writeError(w, http.StatusBadRequest, "kind must be full or health")
		return
	}
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "limit must be a number from 1 to 1000")
			return
		}
		f.Limit = n
	}
	snaps, err := a.ListSnapshots(r.Context(), ag, f)
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, snaps)
}

// ListSnapshots lists an agent's stored snapshots, without their data.
func (a *API) ListSnapshots(ctx context.Context, ag store.Agent, f store.SnapshotFilter) (_ []store.Snapshot, err error) {
	defer a.audit(ctx, access.ListSnapshots, agentTarget(ag), &err)
	if err := allow(ctx, access.ListSnapshots); err != nil {
		return nil, err
	}
	return a.Store.Snapshots(ctx, ag.ID, f)
}

// Snapshot returns a stored snapshot with its data.
func (a *API) Snapshot(ctx context.Context, id int64) (_ *store.Snapshot, err error) {
	defer a.audit(ctx, access.ReadSnapshot, fmt.Sprintf("id=%d", id), &err)
	if err := allow(ctx, access.ReadSnapshot); err != nil {
		return nil, err
	}
	return a.Store.Snapshot(ctx, id)
}

// agentTarget names an agent in the audit log.
func agentTarget(ag store.Agent) string { return "agent=" + ag.ID }

func (a *API) getSnapshot(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "snapshot ID %q is not a number", r.PathValue("id"))
		return
	}
	snap, err := a.Snapshot(r.Context(), id)
	if err != nil {
		a.fail(w, err)
		return
	}
	v := SnapshotView{Snapshot: *snap}
	if v.LatestHealthAt, err = a.LatestHealth(r.Context(), snap.AgentID); err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}
