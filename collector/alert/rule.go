// Package alert evaluates alert rules over the agents' health snapshots and
// keeps the state of the alerts they raise: pending, firing, resolved.
//
// Rules are YAML (see Load): a name, an expression in a small language of
// its own over a fixed catalogue of health fields (see ParseExpr and
// Fields), how long the expression must hold before the alert fires, a
// severity, labels and text templates. An Engine evaluates a RuleSet over
// the fleet's latest snapshots and returns the transitions to notify:
// firing, refire (a periodic re-send, as Alertmanager expects) and
// resolved. Silences mute notifications without changing state. Persisting
// the state is the caller's job (Engine.State and Engine.Restore).
//
// Everything read from a snapshot is untrusted: decoded through minimal
// structs, bounded in count and length, and only ever carried as data.
package alert

import (
	"embed"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"text/template"
	"time"
)

//go:embed rules/*.yaml
var embedded embed.FS

// DefaultRules is the default rule pack, one or more *.yaml files at its
// root, for Load.
var DefaultRules fs.FS = mustSub(embedded, "rules")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// Severity ranks alerts: info, warning or critical.
type Severity string

// The severities.
const (
	Info     Severity = "info"
	Warning  Severity = "warning"
	Critical Severity = "critical"
)

// Valid reports whether s is one of the severities.
func (s Severity) Valid() bool {
	return s == Info || s == Warning || s == Critical
}

// DefaultKeepFiringFor is how long a firing alert's condition must stay
// false before the alert resolves, when its rule does not say.
const DefaultKeepFiringFor = 5 * time.Minute

// Rule is one loaded, validated alert rule.
type Rule struct {
	Name string `json:"name"`
	// Expr is the expression as written.
	Expr string `json:"expr"`
	// For is how long the expression must hold before the alert fires.
	For time.Duration `json:"for"`
	// KeepFiringFor is how long the expression must be false before a
	// firing alert resolves.
	KeepFiringFor time.Duration     `json:"keep_firing_for"`
	Severity      Severity          `json:"severity"`
	Labels        map[string]string `json:"labels,omitempty"`
	// Summary and Description are text/template sources.
	Summary     string `json:"summary,omitempty"`
	Description string `json:"description,omitempty"`
	// Ticket asks the caller to open a proactive ticket when it fires.
	Ticket bool `json:"ticket,omitempty"`
	// Helpdesk names the connector that opens the ticket in the customer's
	// helpdesk too, in Queue (empty: the connector's own).
	Helpdesk string `json:"helpdesk,omitempty"`
	Queue    string `json:"queue,omitempty"`
	// Source is where the rule was defined: "file:line".
	Source string `json:"source"`

	expr    *Expr
	summary *template.Template
	descr   *template.Template
}

// RuleSet is an immutable set of rules, in load order, with unique names.
type RuleSet struct {
	rules  []*Rule
	byName map[string]*Rule
}

func newRuleSet(rules []*Rule) *RuleSet {
	s := &RuleSet{rules: rules, byName: make(map[string]*Rule, len(rules))}
	for _, r := range rules {
		s.byName[r.Name] = r
	}
	return s
}

// Rules returns copies of the set's rules, in load order.
func (s *RuleSet) Rules() []Rule {
	if s == nil {
		return nil
	}
	out := make([]Rule, len(s.rules))
	for i, r := range s.rules {
		out[i] = *r
		out[i].Labels = maps.Clone(r.Labels)
	}
	return out
}

// Len returns the number of rules.
func (s *RuleSet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.rules)
}

// Names returns the rule names, sorted.
func (s *RuleSet) Names() []string {
	if s == nil {
		return nil
	}
	names := slices.Collect(maps.Keys(s.byName))
	slices.Sort(names)
	return names
}

// Current returns s itself, so that a fixed RuleSet is a RuleSource.
func (s *RuleSet) Current() *RuleSet { return s }

// rule returns the rule named name, or nil.
func (s *RuleSet) rule(name string) *Rule {
	if s == nil {
		return nil
	}
	return s.byName[name]
}

// RuleSource gives the rules in force: a *RuleSet, or a *Reloader whose
// set changes when its files do.
type RuleSource interface {
	Current() *RuleSet
}

// String returns the rule's name and source.
func (r *Rule) String() string {
	return fmt.Sprintf("%s (%s)", r.Name, r.Source)
}
