package redact

import (
	"fmt"
	"slices"
	"testing"

	"github.com/sondehq/sonde/protocol"
)

// TestReportLocations: a rule's report counts every find, lists each
// location once, in the order found, up to maxWhere, and counts the
// locations left off.
func TestReportLocations(t *testing.T) {
	r := New(Options{})
	const n = maxWhere + 8
	for i := range n {
		r.TextAt("password=hunter22x", fmt.Sprintf("log:%d", i))
	}
	r.TextAt("password=hunter22x", "log:0")  // again, at a listed place
	r.TextAt("password=hunter22x", "log:39") // again, at a place left off
	rep := r.Report()
	if len(rep.Rules) != 1 {
		t.Fatalf("report: %+v", rep)
	}
	rr := rep.Rules[0]
	if rr.Rule != "config-secret" || rr.Kind != KindSecret || rr.Count != n+2 {
		t.Errorf("rule %s, kind %s, count %d; want config-secret, secret, %d", rr.Rule, rr.Kind, rr.Count, n+2)
	}
	if len(rr.Where) != maxWhere || rr.Where[0] != "log:0" || rr.Where[maxWhere-1] != fmt.Sprintf("log:%d", maxWhere-1) {
		t.Errorf("where: %d locations %q", len(rr.Where), rr.Where)
	}
	if rr.WhereLeftOff != n-maxWhere {
		t.Errorf("where left off %d, want %d", rr.WhereLeftOff, n-maxWhere)
	}
	if rep.Count("config-secret") != n+2 || rep.Count("github-token") != 0 {
		t.Errorf("Count: %d, %d", rep.Count("config-secret"), rep.Count("github-token"))
	}
}

// TestReportSorted: rules come sorted by ID, each with its own kind, and
// a report is a copy that later redaction does not change.
func TestReportSorted(t *testing.T) {
	r := New(Options{Pseudonymize: true, Salt: []byte("s")})
	r.Text("token: ghp_CANARYabcdefghijklmnopqrstuvwxyz0123")
	r.Text("from 10.1.2.3 by bob@example.org")
	r.JSON([]byte(`{"password":"hunter22x","blob":`))
	rep := r.Report()
	var ids, kinds []string
	for _, rr := range rep.Rules {
		ids, kinds = append(ids, rr.Rule), append(kinds, rr.Kind)
	}
	wantIDs := []string{"config-secret", "email", "github-token", "ipv4", "unparseable"}
	wantKinds := []string{KindSecret, KindPseudonym, KindSecret, KindPseudonym, KindUnparseable}
	if !slices.Equal(ids, wantIDs) || !slices.Equal(kinds, wantKinds) {
		t.Errorf("rules %v of kinds %v\nwant %v of %v", ids, kinds, wantIDs, wantKinds)
	}
	where := rep.Rules[0].Where[0]
	r.TextAt("password=other99x", "elsewhere")
	if rep.Rules[0].Count != 1 || rep.Rules[0].Where[0] != where || len(rep.Rules[0].Where) != 1 {
		t.Errorf("a report changed after it was taken: %+v", rep.Rules[0])
	}
}

// TestSalt: without a salt each Redactor draws its own; a given salt is
// copied, so changing the caller's slice later changes nothing.
func TestSalt(t *testing.T) {
	salt := []byte("bundle-1")
	r := New(Options{Pseudonymize: true, Salt: salt})
	first := r.Text("from 10.1.2.3")
	salt[0] = 'X'
	if again := New(Options{Pseudonymize: true, Salt: []byte("bundle-1")}).Text("from 10.1.2.3"); again != first {
		t.Errorf("same salt, different pseudonyms: %s, %s", first, again)
	}
	if r.Text("from 10.1.2.3") != first {
		t.Error("changing the caller's salt changed the Redactor's")
	}
	a := New(Options{Pseudonymize: true}).Text("from 10.1.2.3")
	b := New(Options{Pseudonymize: true}).Text("from 10.1.2.3")
	if a == b {
		t.Errorf("two unsalted Redactors share a pseudonym: %s", a)
	}
}

// TestReportAtSource: what the agent scrubbed, as its snapshots say, is
// reported apart from the collector's own finds, each snapshot counted
// once however often it is redacted, and kept in the redacted copy.
func TestReportAtSource(t *testing.T) {
	doc := func(seq uint64) *protocol.Document {
		return &protocol.Document{AgentID: "ag", BootEpoch: 7, Seq: seq, Probes: []protocol.ProbeJSON{
			{Name: "processes", Data: []byte(`{"n":1}`), Scrubbed: []protocol.Scrub{{Rule: "cli-flag-secret", Count: 2}}},
			{Name: "logs", Data: []byte(`{"n":2}`), Scrubbed: []protocol.Scrub{{Rule: "cli-flag-secret", Count: 1}, {Rule: "auth-header", Count: 4}}},
		}}
	}
	r := New(Options{})
	out := r.Document(doc(1))
	r.Document(doc(1)) // the same snapshot again, as in a bundle's history
	r.Document(doc(2))
	if !slices.Equal(out.Probes[1].Scrubbed, doc(1).Probes[1].Scrubbed) {
		t.Errorf("redacted copy scrubbed %+v", out.Probes[1].Scrubbed)
	}
	rep := r.Report()
	if len(rep.Rules) != 0 {
		t.Errorf("the collector found %+v in data without secrets", rep.Rules)
	}
	want := []RuleReport{
		{Rule: "auth-header", Kind: KindSecret, Count: 8, Where: []string{"logs"}},
		{Rule: "cli-flag-secret", Kind: KindSecret, Count: 6, Where: []string{"processes", "logs"}},
	}
	if fmt.Sprint(rep.AtSource) != fmt.Sprint(want) {
		t.Errorf("at source %+v, want %+v", rep.AtSource, want)
	}
}
