package ui

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sondehq/sonde/collector/alert"
	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/bundle"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/ticket"
	"github.com/sondehq/sonde/findings"
	"github.com/sondehq/sonde/internal/render"
)

// snapshotTimeout bounds how long a page waits for a fresh snapshot.
const snapshotTimeout = 30 * time.Second

type agentRow struct {
	store.Agent
	Online bool
	// Findings counts the findings of the latest snapshot; Worst is the
	// severity of the first. Both are shown to l2 and above only, as the
	// snapshots they come from.
	Findings int
	Worst    string
}

type agentsData struct {
	Query        string
	Agents       []agentRow
	Total        int
	ShowFindings bool
}

func (u *UI) agents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	list, err := u.api.Store.Agents(ctx)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	d := agentsData{Query: q, Total: len(list), ShowFindings: api.Require(ctx, store.RoleL2) == nil}
	live := u.api.Agents.Connected()
	for _, ag := range list {
		if !matches(ag, q) {
			continue
		}
		row := agentRow{Agent: ag}
		_, row.Online = live[ag.ID]
		if d.ShowFindings {
			_, fs, err := u.latestFindings(ctx, ag)
			if err != nil {
				u.fail(w, r, err)
				return
			}
			row.Findings = len(fs)
			if len(fs) > 0 {
				row.Worst = fs[0].Severity.String()
			}
		}
		d.Agents = append(d.Agents, row)
	}
	slices.SortFunc(d.Agents, func(a, b agentRow) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.Facts.Hostname), strings.ToLower(b.Facts.Hostname)), cmp.Compare(a.ID, b.ID))
	})
	u.render(w, r, http.StatusOK, "agents", "Agents", d)
}

// matches reports whether q is part of the agent's hostname, ID or OS.
func matches(ag store.Agent, q string) bool {
	if q == "" {
		return true
	}
	q = strings.ToLower(q)
	f := ag.Facts
	for _, s := range []string{f.Hostname, ag.ID, f.OS, f.Platform + " " + f.PlatformVersion} {
		if strings.Contains(strings.ToLower(s), q) {
			return true
		}
	}
	return false
}

// latestFindings analyzes the agent's latest snapshot, full or health.
func (u *UI) latestFindings(ctx context.Context, ag store.Agent) (*store.Snapshot, []findings.Finding, error) {
	latest, err := u.api.Store.Snapshots(ctx, ag.ID, store.SnapshotFilter{Limit: 1})
	if err != nil || len(latest) == 0 {
		return nil, nil, err
	}
	snap, err := u.api.Store.Snapshot(ctx, latest[0].ID)
	if err != nil {
		return nil, nil, err
	}
	doc := snap.Document
	if doc.Facts == nil {
		doc.Facts = &ag.Facts // stored snapshots keep no facts; the agent's are current
	}
	return snap, findings.Analyze(&doc, nil), nil
}

type probeView struct {
	Name       string
	DurationMS float64
	Error      string
	Text       string
}

type agentData struct {
	Agent          store.Agent
	Online         bool
	ConnectedSince time.Time
	// CanDiagnose is whether the caller may see snapshots and act (l2).
	CanDiagnose bool
	Latest      *store.Snapshot // the latest full snapshot
	Probes      []probeView
	FindingsOf  *store.Snapshot // the snapshot the findings come from
	Findings    []bundle.Ranked
	History     []store.Snapshot
	Tickets     []ticket.Ticket // open tickets, to attach a bundle to
	Alerts      []alert.Alert   // the agent's firing alerts
}

func (u *UI) agent(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ag, err := u.api.FindAgent(ctx, r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	d := agentData{Agent: ag, CanDiagnose: api.Require(ctx, store.RoleL2) == nil}
	d.ConnectedSince, d.Online = u.api.Agents.Connected()[ag.ID]
	if d.Alerts, err = u.firing(ctx, ag.ID); err != nil {
		u.fail(w, r, err)
		return
	}
	if d.CanDiagnose {
		if err := u.diagnostics(ctx, &d); err != nil {
			u.fail(w, r, err)
			return
		}
	}
	u.render(w, r, http.StatusOK, "agent", ag.Facts.Hostname, d)
}

// diagnostics fills in what l2 sees of an agent: its latest full snapshot
// by probe, findings with the knowledge base's fixes, history and the
// tickets a bundle may go to.
func (u *UI) diagnostics(ctx context.Context, d *agentData) error {
	st := u.api.Store
	full, err := st.Snapshots(ctx, d.Agent.ID, store.SnapshotFilter{Kind: "full", Limit: 1})
	if err != nil {
		return err
	}
	if len(full) > 0 {
		if d.Latest, err = st.Snapshot(ctx, full[0].ID); err != nil {
			return err
		}
		for _, p := range d.Latest.Probes {
			var b strings.Builder
			if len(p.Data) > 0 {
				render.Data(&b, p.Data)
			}
			d.Probes = append(d.Probes, probeView{Name: p.Name, DurationMS: p.DurationMS, Error: render.Clean(p.Error), Text: b.String()})
		}
	}
	snap, fs, err := u.latestFindings(ctx, d.Agent)
	if err != nil {
		return err
	}
	d.FindingsOf = snap
	for _, f := range fs {
		rk := bundle.Ranked{Finding: f}
		if e, ok := u.api.Bundles.KB.Entry(f.ID); ok {
			rk.KB = &e
		}
		d.Findings = append(d.Findings, rk)
	}
	if d.History, err = st.Snapshots(ctx, d.Agent.ID, store.SnapshotFilter{Limit: 20}); err != nil {
		return err
	}
	tickets, err := st.Tickets(ctx, store.TicketFilter{Limit: 100})
	if err != nil {
		return err
	}
	for _, t := range tickets {
		if t.Status != ticket.Closed {
			d.Tickets = append(d.Tickets, t)
		}
	}
	return nil
}

func (u *UI) takeSnapshot(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	back := "/agents/" + url.PathEscape(r.PathValue("id"))
	if err := api.Require(ctx, store.RoleL2); err != nil {
		u.done(w, r, back, err, "")
		return
	}
	ag, err := u.api.FindAgent(ctx, r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	snap, err := u.api.TakeSnapshot(ctx, ag, nil, u.wait())
	msg := ""
	if err == nil {
		msg = fmt.Sprintf("Snapshot %d taken: %d probes, captured %s.", snap.ID, len(snap.Probes), snap.CapturedAt.UTC().Format(time.RFC3339))
	}
	u.done(w, r, back, err, msg)
}

// wait is how long to wait for an agent's snapshot.
func (u *UI) wait() time.Duration {
	if u.api.MaxWait > 0 {
		return min(snapshotTimeout, u.api.MaxWait)
	}
	return snapshotTimeout
}

func (u *UI) attachBundle(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	back := "/agents/" + url.PathEscape(r.PathValue("id"))
	if err := api.Require(ctx, store.RoleL2); err != nil {
		u.done(w, r, back, err, "")
		return
	}
	ag, err := u.api.FindAgent(ctx, r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	ref := strings.TrimSpace(r.PostFormValue("ticket"))
	if ref == "" {
		u.redirect(w, r, back, flash{Kind: "error", Text: "Name the ticket to attach the bundle to."})
		return
	}
	t, err := u.api.Store.Ticket(ctx, ref)
	if err != nil {
		u.done(w, r, back, err, "")
		return
	}
	pseudo, handover := r.PostFormValue("pseudonymize") != "", r.PostFormValue("handover") != ""
	b, err := u.api.BuildBundle(ctx, t, ag, pseudo, handover, u.wait())
	if err != nil {
		u.done(w, r, back, err, "")
		return
	}
	what := "Bundle"
	if handover {
		what = "Handover package"
	}
	msg := fmt.Sprintf("%s %d attached to %s, from a fresh snapshot.", what, b.ID, t.Ref)
	if !b.Fresh {
		msg = fmt.Sprintf("%s %d attached to %s. %s", what, b.ID, t.Ref, b.Note)
	}
	u.done(w, r, "/tickets/"+url.PathEscape(t.Ref), nil, msg)
}

type diffData struct {
	Agent        store.Agent
	From, To     string
	FromID, ToID int64
	Text         string
	Error        string
}

func (u *UI) diff(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := api.Require(ctx, store.RoleL2); err != nil {
		u.fail(w, r, err)
		return
	}
	ag, err := u.api.FindAgent(ctx, r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	d := diffData{Agent: ag, From: strings.TrimSpace(q.Get("from")), To: strings.TrimSpace(q.Get("to"))}
	status := http.StatusOK
	v, err := u.api.Compare(ctx, ag.ID, d.From, d.To)
	if err != nil {
		status, d.Error = api.Status(err)
		if status == http.StatusServiceUnavailable {
			u.log.Error("UI diff", "err", err)
		}
	} else {
		var b strings.Builder
		v.Diff.Text(&b)
		d.FromID, d.ToID, d.Text = v.FromID, v.ToID, b.String()
	}
	u.render(w, r, status, "diff", "Changes on "+ag.Facts.Hostname, d)
}
