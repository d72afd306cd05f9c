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

	"github.com/sondehq/sonde/collector/access"
	"github.com/sondehq/sonde/collector/alert"
	"github.com/sondehq/sonde/collector/api"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/ticket"
	"github.com/sondehq/sonde/internal/render"
)

// snapshotTimeout bounds how long a page waits for a fresh snapshot.
const snapshotTimeout = 30 * time.Second

type agentRow struct {
	store.Agent
	Online    bool
	Transport string // while online: "quic" or "tcp"
	// Findings counts the findings of the latest snapshot; Worst is the
	// severity of the first.
	Findings int
	Worst    string
}

type agentsData struct {
	Query  string
	Agents []agentRow
	Total  int
}

func (u *UI) agents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	list, err := u.api.Store.Agents(ctx)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	d := agentsData{Query: q, Total: len(list)}
	live := u.api.Agents.Connected()
	for _, ag := range list {
		if !matches(ag, q) {
			continue
		}
		row := agentRow{Agent: ag}
		link, online := live[ag.ID]
		row.Online, row.Transport = online, link.Transport
		m, err := u.api.Latest(ctx, ag)
		if err != nil {
			u.fail(w, r, err)
			return
		}
		row.Findings = len(m.Findings)
		if len(m.Findings) > 0 {
			row.Worst = m.Findings[0].Severity.String()
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

type probeView struct {
	Name     string
	Duration string
	Error    string
	Text     string
	// AsOf and Stale are set on a fleeting list (render.Fleeting): how old
	// it is, and why it may be out of date when the agent has reported
	// since.
	AsOf, Stale string
}

// probeViews shows a stored snapshot's probes at time now, in units
// (render.Data), its fleeting lists marked with age.
func probeViews(snap *store.Snapshot, age render.Age, now time.Time) []probeView {
	var out []probeView
	for _, p := range snap.Probes {
		v := probeView{Name: p.Name, Duration: render.Seconds(p.DurationMS / 1000), Error: render.Clean(p.Error)}
		if len(p.Data) > 0 {
			var b strings.Builder
			render.Data(&b, p.Data, now)
			v.Text = b.String()
		}
		if render.Fleeting(p.Name) {
			v.AsOf = age.AsOf(now)
			if age.Stale() {
				v.Stale = age.StaleNote("This list")
			}
		}
		out = append(out, v)
	}
	return out
}

type agentData struct {
	api.AgentDetail
	// CanDiagnose is whether the caller sees raw machine data and may take
	// snapshots (L2 and above).
	CanDiagnose bool
	Latest      *store.Snapshot // the latest full snapshot
	Probes      []probeView
	History     []store.Snapshot
	// Tickets are the open tickets a bundle may go to: all of them for
	// L2, the L1's own tickets that name this machine for L1.
	Tickets []ticket.Ticket
	// Mine are the tickets that name this machine, with their state.
	Mine   []ticket.Ticket
	Alerts []alert.Alert // the agent's firing alerts
	// AsOf says how old the findings are, Stale why they may be out of
	// date; both empty when the agent has sent no snapshot.
	AsOf, Stale string
	// LatestHealth is when the agent last reported health.
	LatestHealth time.Time
}

func (u *UI) agent(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ag, err := u.api.FindAgent(ctx, r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	k, _ := api.KeyFrom(ctx)
	detail, err := u.api.Agent(ctx, ag)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	d := agentData{AgentDetail: detail, CanDiagnose: access.Can(k, access.ReadSnapshot)}
	if d.LatestHealth, err = u.api.LatestHealth(ctx, ag.ID); err != nil {
		u.fail(w, r, err)
		return
	}
	if m := d.Machine; m.SnapshotID != 0 {
		age := render.Age{SnapshotID: m.SnapshotID, CapturedAt: m.CapturedAt, LatestHealth: d.LatestHealth}
		d.AsOf = age.AsOf(time.Now())
		if age.Stale() {
			d.Stale = age.StaleNote("These findings")
		}
	}
	if d.Alerts, err = u.firing(ctx, ag.ID); err != nil {
		u.fail(w, r, err)
		return
	}
	if err := u.machineTickets(ctx, k, &d); err != nil {
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

// machineTickets fills in the machine's tickets and those a bundle may go to.
func (u *UI) machineTickets(ctx context.Context, k store.APIKey, d *agentData) error {
	var err error
	if d.Mine, err = u.api.Store.Tickets(ctx, store.TicketFilter{Agent: d.ID, Limit: 50}); err != nil {
		return err
	}
	open := d.Mine
	if access.ViewOf(k) == access.Evidence {
		if open, err = u.api.Store.Tickets(ctx, store.TicketFilter{Limit: 100}); err != nil {
			return err
		}
	}
	for _, t := range open {
		if t.Status != ticket.Closed && access.Attach(k, t, d.ID) == nil {
			d.Tickets = append(d.Tickets, t)
		}
	}
	return nil
}

// diagnostics fills in what L2 sees of an agent besides its findings: its
// latest full snapshot by probe and its history. The page's read is on
// the audit record as agent.read.
func (u *UI) diagnostics(ctx context.Context, d *agentData) error {
	st := u.api.Store
	full, err := st.Snapshots(ctx, d.ID, store.SnapshotFilter{Kind: "full", Delivered: store.Delivers(d.ID), Limit: 1})
	if err != nil {
		return err
	}
	if len(full) > 0 {
		if d.Latest, err = st.Snapshot(ctx, full[0].ID); err != nil {
			return err
		}
		age := render.Age{SnapshotID: d.Latest.ID, CapturedAt: d.Latest.CapturedAt, LatestHealth: d.LatestHealth}
		d.Probes = probeViews(d.Latest, age, time.Now())
	}
	d.History, err = st.Snapshots(ctx, d.ID, store.SnapshotFilter{Limit: 20})
	return err
}

func (u *UI) takeSnapshot(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	back := "/agents/" + url.PathEscape(r.PathValue("id"))
	ag, err := u.api.FindAgent(ctx, r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	snap, shared, err := u.api.TakeSnapshot(ctx, ag, nil, nil, u.wait())
	msg := ""
	switch {
	case err != nil:
	case shared:
		msg = fmt.Sprintf("Snapshot %d, shared: the machine is being asked for more than its limit, so this is the snapshot it took %s before for another request (%d probes, captured %s).",
			snap.ID, render.Duration(time.Since(snap.CapturedAt).Round(100*time.Millisecond)), len(snap.Probes), render.Stamp(snap.CapturedAt))
	default:
		msg = fmt.Sprintf("Snapshot %d taken: %d probes, captured %s.", snap.ID, len(snap.Probes), render.Stamp(snap.CapturedAt))
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
	if r.PostFormValue("from") == "ticket" {
		back = "/tickets/" + url.PathEscape(strings.TrimSpace(r.PostFormValue("ticket")))
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
	t, err := u.api.Ticket(ctx, ref)
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
	Agent                    store.Agent
	From, To                 string
	FromID, ToID             int64
	FromImported, ToImported bool
	Text                     string
	Error                    string
}

func (u *UI) diff(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
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
		d.FromImported, d.ToImported = v.FromImported, v.ToImported
	}
	u.render(w, r, status, "diff", "Changes on "+ag.Facts.Hostname, d)
}
