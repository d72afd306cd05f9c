package api

import (
	"context"
	"net/http"
	"time"

	"github.com/sondehq/sonde/collector/access"
	"github.com/sondehq/sonde/collector/bundle"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/findings"
)

// Me answers GET /api/v1/me: who the caller is and what it is shown.
type Me struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// Evidence is whether the caller sees raw machine data (snapshots,
	// evidence values, bundles' contents); without it, findings come as
	// titles, severity and plain-language steps.
	Evidence bool `json:"evidence"`
}

func (a *API) whoAmI(w http.ResponseWriter, r *http.Request) {
	k, _ := KeyFrom(r.Context())
	writeJSON(w, http.StatusOK, Me{Name: k.Name, Role: k.Role, Evidence: access.ViewOf(k) == access.Evidence})
}

// Machine is what a machine's latest snapshot says, at the caller's view.
type Machine struct {
	// SnapshotID, Kind and CapturedAt name the snapshot the findings come
	// from: the latest one the agent delivered, full or health. Zero when
	// it has delivered none.
	SnapshotID int64     `json:"snapshot_id,omitempty"`
	Kind       string    `json:"kind,omitempty"`
	CapturedAt time.Time `json:"captured_at,omitzero"`
	// Imported is set when that snapshot was imported from a document: an
	// enrolled agent's findings never come from one, a machine known only
	// from imports has nothing else.
	Imported bool `json:"imported,omitempty"`
	// FullSnapshot is whether a full snapshot was ever stored: without one,
	// the findings rest on health samples alone, and a fresh snapshot
	// would say more.
	FullSnapshot bool            `json:"full_snapshot"`
	Findings     []bundle.Ranked `json:"findings"`
}

// Latest analyzes an agent's latest snapshot for the caller in ctx, at
// the caller's view. It is not on the audit record by itself: pages that
// show its findings are (agent.read, ticket.read); listings show counts.
func (a *API) Latest(ctx context.Context, ag store.Agent) (Machine, error) {
	m := Machine{Findings: []bundle.Ranked{}}
	full, err := a.Store.Snapshots(ctx, ag.ID, store.SnapshotFilter{Kind: "full", Delivered: store.Delivers(ag.ID), Limit: 1})
	if err != nil {
		return m, err
	}
	m.FullSnapshot = len(full) > 0
	latest, err := a.Store.Snapshots(ctx, ag.ID, store.SnapshotFilter{Delivered: store.Delivers(ag.ID), Limit: 1})
	if err != nil || len(latest) == 0 {
		return m, err
	}
	snap, err := a.Store.Snapshot(ctx, latest[0].ID)
	if err != nil {
		return m, err
	}
	m.SnapshotID, m.Kind, m.CapturedAt, m.Imported = snap.ID, snap.Kind, snap.CapturedAt, snap.Imported
	k, _ := KeyFrom(ctx)
	for _, f := range a.rank(snap, &ag.Facts) { // stored snapshots keep no facts; the agent's are current
		m.Findings = append(m.Findings, View(k, f))
	}
	return m, nil
}

// View returns a finding as k may see it: whole from L2 up; below, what
// the person at the machine could see — title, severity, subject and the
// plain-language explanation and steps, no evidence values and no steps
// for L2 (the knowledge base's l2_steps).
func View(k store.APIKey, f bundle.Ranked) bundle.Ranked {
	if access.ViewOf(k) == access.Evidence {
		return f
	}
	f.Evidence = nil
	if f.KB != nil {
		e := findings.Entry{ID: f.KB.ID, Title: f.KB.Title, UserExplanation: f.KB.UserExplanation, Steps: f.KB.Steps}
		f.KB = &e
	}
	return f
}

func (a *API) kb() *findings.KB {
	if a.Bundles.KB == nil {
		a.Bundles.KB, _ = findings.LoadKB("") // the embedded defaults always load
	}
	return a.Bundles.KB
}

// AgentDetail is an agent with what its latest snapshot says.
type AgentDetail struct {
	AgentView
	Machine Machine `json:"machine"`
}

// Agent returns an agent and its findings, at the caller's view.
func (a *API) Agent(ctx context.Context, ag store.Agent) (_ AgentDetail, err error) {
	defer a.audit(ctx, access.ReadAgent, agentTarget(ag), &err)
	d := AgentDetail{AgentView: a.view(ag, a.Agents.Connected())}
	if err := allow(ctx, access.ReadAgent); err != nil {
		return d, err
	}
	d.Machine, err = a.Latest(ctx, ag)
	return d, err
}

func (a *API) getAgent(w http.ResponseWriter, r *http.Request) {
	ag, ok := a.resolve(w, r)
	if !ok {
		return
	}
	d, err := a.Agent(r.Context(), ag)
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}
