package api

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/sondehq/sonde/collector/bundle"
	"github.com/sondehq/sonde/collector/store"
	"github.com/sondehq/sonde/collector/ticket"
	"github.com/sondehq/sonde/findings"
	"github.com/sondehq/sonde/protocol"
)

// AgentFinding is a finding on one of a ticket's machines with the
// snapshot it rests on (see bundle.Pinned).
type AgentFinding = bundle.Pinned

// The marks of AgentFinding.Change.
const (
	ChangeGone = "gone"
	ChangeNew  = "new"
)

// key names a finding on a machine across snapshots.
func key(f *AgentFinding) string { return f.AgentID + "\x00" + f.ID + "\x00" + f.Subject }

// pinned returns a ticket's evidence: the findings of the snapshots in its
// bundles, as each bundle recorded them, and of the snapshots imported
// for it, whole (see View). A finding seen in several keeps its newest
// snapshot. It does not depend on anything the machines sent since, so
// the ticket, its handover package and whatever quotes it say the same.
func (a *API) pinned(ctx context.Context, bundles []store.Bundle, events []ticket.Event) ([]AgentFinding, error) {
	var all []AgentFinding
	facts := map[string]*protocol.Facts{}
	rank := func(snap *store.Snapshot) ([]bundle.Ranked, error) {
		f, ok := facts[snap.AgentID]
		if !ok {
			ag, err := a.Store.Agent(ctx, snap.AgentID)
			if err != nil {
				return nil, err
			}
			f = &ag.Facts
			facts[snap.AgentID] = f
		}
		return a.rank(snap, f), nil
	}
	add := func(agentID string, snapID, bundleID int64, captured time.Time, rs []bundle.Ranked) {
		for _, r := range rs {
			all = append(all, AgentFinding{AgentID: agentID, SnapshotID: snapID, CapturedAt: captured, BundleID: bundleID, Ranked: r})
		}
	}
	for _, b := range bundles {
		snap, err := a.Store.Snapshot(ctx, b.SnapshotID)
		if err != nil {
			return nil, fmt.Errorf("evidence of bundle %d: %w", b.ID, err)
		}
		var rs []bundle.Ranked
		if len(b.Evidence) > 0 {
			if err := json.Unmarshal(b.Evidence, &rs); err != nil {
				return nil, fmt.Errorf("evidence of bundle %d: %w", b.ID, err)
			}
		} else if rs, err = rank(snap); err != nil { // recorded before bundles kept their findings
			return nil, fmt.Errorf("evidence of bundle %d: %w", b.ID, err)
		}
		add(b.AgentID, b.SnapshotID, b.ID, snap.CapturedAt, rs)
	}
	for _, ev := range events {
		if ev.Kind != "import" || ev.Snapshot == 0 {
			continue
		}
		snap, err := a.Store.Snapshot(ctx, ev.Snapshot)
		if err != nil {
			return nil, fmt.Errorf("evidence of imported snapshot %d: %w", ev.Snapshot, err)
		}
		rs, err := rank(snap)
		if err != nil {
			return nil, fmt.Errorf("evidence of imported snapshot %d: %w", ev.Snapshot, err)
		}
		add(snap.AgentID, snap.ID, 0, snap.CapturedAt, rs)
	}
	slices.SortStableFunc(all, func(x, y AgentFinding) int { return y.CapturedAt.Compare(x.CapturedAt) })
	seen := map[string]bool{}
	out := []AgentFinding{}
	for _, f := range all {
		if !seen[key(&f)] {
			seen[key(&f)] = true
			out = append(out, f)
		}
	}
	sortFindings(out)
	return out, nil
}

// rank analyzes a stored snapshot on its own, with the knowledge base;
// facts are the machine's, which stored snapshots do not keep.
func (a *API) rank(snap *store.Snapshot, facts *protocol.Facts) []bundle.Ranked {
	doc := snap.Document
	if doc.Facts == nil {
		doc.Facts = facts
	}
	fs := findings.Analyze(&doc, nil)
	out := make([]bundle.Ranked, len(fs))
	for i, f := range fs {
		out[i].Finding = f
		if e, ok := a.kb().Entry(f.ID); ok {
			out[i].KB = &e
		}
	}
	return out
}

// sortFindings ranks findings most severe first, newest evidence first
// among equals, keeping the analyzers' order otherwise.
func sortFindings(fs []AgentFinding) {
	slices.SortStableFunc(fs, func(x, y AgentFinding) int {
		return cmp.Or(cmp.Compare(y.Severity, x.Severity), y.CapturedAt.Compare(x.CapturedAt))
	})
}

// markChanges compares a ticket's evidence with its machines' state now,
// in place: evidence a machine's latest full snapshot no longer shows is
// "gone", findings now that the machine's evidence lacks are "new". A
// machine without evidence gets no marks, nor does evidence newer than the
// state now; a health sample, which lacks most probes, marks nothing gone.
func markChanges(evidence, now []AgentFinding, machines map[string]Machine) {
	inEvidence, inNow := map[string]bool{}, map[string]bool{}
	hasEvidence := map[string]int64{} // agent → newest evidence snapshot
	for _, f := range evidence {
		inEvidence[key(&f)] = true
		hasEvidence[f.AgentID] = max(hasEvidence[f.AgentID], f.SnapshotID)
	}
	for _, f := range now {
		inNow[key(&f)] = true
	}
	for i := range evidence {
		f := &evidence[i]
		m := machines[f.AgentID]
		if m.Kind == "full" && m.SnapshotID > f.SnapshotID && !inNow[key(f)] {
			f.Change = ChangeGone
		}
	}
	for i := range now {
		f := &now[i]
		if newest, ok := hasEvidence[f.AgentID]; ok && f.SnapshotID > newest && !inEvidence[key(f)] {
			f.Change = ChangeNew
		}
	}
}
