package api

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/sondehq/sonde/collector/bundle"
	"github.com/sondehq/sonde/collector/ticket"
	"github.com/sondehq/sonde/findings"
)

// SimilarTicket is a resolved or closed ticket that shared a ticket's
// leading findings, with why it matched.
type SimilarTicket struct {
	ticket.Ticket
	// Why names each shared finding: "disk.almost-full on / (critical)".
	Why   []string `json:"why"`
	Score int      `json:"score"`
}

// Bounds of the similar-ticket search.
const (
	maxLeading    = 5  // findings of the ticket that count
	maxCandidates = 50 // resolved tickets scored
	maxSimilar    = 10 // shown
)

// leading returns the findings a ticket is about: its evidence, else its
// machines' state now; warnings and worse only, most severe first. Info
// findings (a clock not synced, say) are everywhere and say nothing of
// the problem.
func leading(evidence, now []AgentFinding) []AgentFinding {
	fs := evidence
	if len(fs) == 0 {
		fs = now
	}
	var out []AgentFinding
	for _, f := range fs {
		if f.Severity >= findings.Warning && len(out) < maxLeading {
			out = append(out, f)
		}
	}
	return out
}

// similar finds resolved or closed tickets, other than ref, whose bundles
// had the leading findings, ranked by what they shared (see score).
func (a *API) similar(ctx context.Context, ref string, lead []AgentFinding) ([]SimilarTicket, error) {
	out := []SimilarTicket{}
	if len(lead) == 0 {
		return out, nil
	}
	ids := make([]string, len(lead))
	for i, f := range lead {
		ids[i] = f.ID
	}
	cands, err := a.Store.SimilarTickets(ctx, ids, ref, maxCandidates)
	if err != nil {
		return nil, err
	}
	for _, c := range cands {
		bundles, err := a.Store.Bundles(ctx, c.Ref)
		if err != nil {
			return nil, err
		}
		var theirs []bundle.Ranked
		for _, b := range bundles {
			if len(b.Evidence) == 0 { // recorded before bundles kept their findings
				for _, id := range b.Findings {
					theirs = append(theirs, bundle.Ranked{Finding: findings.Finding{ID: id}})
				}
				continue
			}
			var rs []bundle.Ranked
			if err := json.Unmarshal(b.Evidence, &rs); err != nil {
				return nil, fmt.Errorf("evidence of bundle %d: %w", b.ID, err)
			}
			theirs = append(theirs, rs...)
		}
		if s := score(lead, theirs); s.Score > 0 {
			s.Ticket = c
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(x, y SimilarTicket) int {
		return cmp.Or(cmp.Compare(y.Score, x.Score), y.UpdatedAt.Compare(x.UpdatedAt))
	})
	if len(out) > maxSimilar {
		out = out[:maxSimilar]
	}
	return out, nil
}

// score rates how much another ticket's findings share with the leading
// ones: each shared finding weighs by its severity and its rank among the
// leading, and more when it concerns the same subject (mount, unit,
// interface).
func score(lead []AgentFinding, theirs []bundle.Ranked) SimilarTicket {
	var s SimilarTicket
	for i, f := range lead {
		match, sameSubject := false, false
		for _, t := range theirs {
			if t.ID == f.ID {
				match = true
				sameSubject = sameSubject || (f.Subject != "" && t.Subject == f.Subject)
			}
		}
		if !match {
			continue
		}
		s.Score += 10*int(f.Severity) + maxLeading - i
		why := f.ID
		if sameSubject {
			s.Score += 5
			why += " on " + f.Subject
		}
		s.Why = append(s.Why, why+" ("+f.Severity.String()+")")
	}
	return s
}
