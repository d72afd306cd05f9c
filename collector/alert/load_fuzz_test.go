package alert

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
)

// loadErrors returns the leaves of a joined error.
func loadErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, loadErrors(e)...)
		}
		return out
	}
	return []error{err}
}

// FuzzParseFile feeds arbitrary bytes to the rule file parser that Load
// runs on every team file. Nothing may panic; every problem is a LoadError
// naming the file; every rule returned passes the checks the parser
// promises.
func FuzzParseFile(f *testing.F) {
	names, err := fs.Glob(DefaultRules, "*.yaml")
	if err != nil || len(names) == 0 {
		f.Fatalf("default rules: %v %v", names, err)
	}
	for _, name := range names {
		b, err := fs.ReadFile(DefaultRules, name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	const head = "rules:\n  - name: R\n"
	for _, s := range []string{
		"", "rules: []\n", "rules:\n", "- a\n",
		"rules:\n  - name: DiskAlmostFull\n    expr: disk.used_ratio > 0.8\n    severity: warning\n    labels: {team: desktop}\n",
		"rules:\n  - name: HighCPU\n    disabled: true\n  - name: Custom\n    expr: cpu.load5 > 8\n    severity: info\n    for: 2d\n    keep_firing_for: 1h30m\n    ticket: true\n",
		head + "    expr: cpu.load1 > 1\n    severity: info\n    summary: '{{ .Labels.hostname }} {{ humanizePercent .Value }}'\n    description: '{{ .Value'\n",
		head + "    expr: rate(network.errors{interface!~\"lo\"}) >= .5\n    severity: critical\n    labels: {severity: low}\n",
		head + "    expr: cpu.load1 > 1\n    keep_firing_for: -1m\n    severity: info\n",
		head + "    expr: cpu.load1 > 1\n    severity: info\n" + head[7:] + "    expr: cpu.load1 > 1\n    severity: info\n",
		"rules:\n  - name: R\n    expr: x: y\n",
		"rules: []\n---\nrules: []\n",
		"rules:\n  - &a {name: A, expr: cpu.load1 > 1, severity: info}\n  - *a\n",
		"rules:\n  - name: R\n    serverity: info\n",
	} {
		f.Add([]byte(s))
	}
	const file = "team/rules.yaml"
	f.Fuzz(func(t *testing.T, b []byte) {
		rules, err := parseFile(file, b)
		if err != nil {
			for _, e := range loadErrors(err) {
				var le *LoadError
				if !errors.As(e, &le) {
					t.Fatalf("problem %q is a %T, not a LoadError", e, e)
				}
				if le.File != file || le.Line < 0 {
					t.Fatalf("problem %q names %s:%d", e, le.File, le.Line)
				}
			}
		}
		for _, p := range rules {
			if !validName.MatchString(p.Name) {
				t.Fatalf("rule with invalid name %q", p.Name)
			}
			if !strings.HasPrefix(p.Source, file+":") {
				t.Fatalf("rule %q has source %q", p.Name, p.Source)
			}
			if p.disabled {
				continue
			}
			if p.expr == nil || p.expr.String() != p.Expr {
				t.Fatalf("rule %q: expression %q not kept as written", p.Name, p.Expr)
			}
			if !p.Severity.Valid() || p.For < 0 || p.KeepFiringFor < 0 {
				t.Fatalf("rule %q: severity %q, for %v, keep firing for %v", p.Name, p.Severity, p.For, p.KeepFiringFor)
			}
			for k, v := range p.Labels {
				if !validLabel.MatchString(k) || slices.Contains(reserved, k) || len(v) > 1024 {
					t.Fatalf("rule %q: label %q=%q", p.Name, k, v)
				}
			}
			if (p.Summary == "") != (p.summary == nil) || (p.Description == "") != (p.descr == nil) {
				t.Fatalf("rule %q: templates not parsed", p.Name)
			}
		}
		if err == nil {
			rs := newRuleSet(rulesOf(rules))
			if rs.Len() > len(rules) {
				t.Fatalf("%d rules from %d", rs.Len(), len(rules))
			}
		}
	})
}

func rulesOf(ps []parsed) []*Rule {
	out := make([]*Rule, 0, len(ps))
	for _, p := range ps {
		if !p.disabled {
			out = append(out, p.Rule)
		}
	}
	return out
}
