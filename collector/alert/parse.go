package alert

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// parsed is a rule read from a file, and whether it disables a default.
type parsed struct {
	*Rule
	file     string
	line     int
	disabled bool
}

func (p parsed) errorf(format string, args ...any) error {
	return &LoadError{File: p.file, Line: p.line, Msg: fmt.Sprintf(format, args...)}
}

// parseFile decodes one file strictly and validates its rules. It returns
// the valid rules and the problems of the others.
func parseFile(file string, b []byte) ([]parsed, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var spec fileSpec
	if err := dec.Decode(&spec); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // an empty file
		}
		return nil, yamlErrors(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &LoadError{File: file, Line: extra.Line, Msg: "only one YAML document is allowed"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlErrors(file, err)
	}
	// The strict decode proved the shape; the nodes give the lines.
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, yamlErrors(file, err)
	}
	items := ruleNodes(&root)
	var out []parsed
	var errs []error
	for i, spec := range spec.Rules {
		var n *yaml.Node
		if i < len(items) {
			n = items[i]
		}
		p, err := build(file, spec, n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, p)
	}
	return out, errors.Join(errs...)
}

// yamlErrors turns the decoder's messages into LoadErrors with lines.
func yamlErrors(file string, err error) error {
	msgs := []string{err.Error()}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	var errs []error
	for _, m := range msgs {
		e := &LoadError{File: file, Msg: typeNames.Replace(m)}
		if g := yamlLine.FindStringSubmatch(m); g != nil {
			e.Line, _ = strconv.Atoi(g[1])
			e.Msg = typeNames.Replace(g[2])
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// ruleNodes returns the mapping node of each rule under "rules".
func ruleNodes(root *yaml.Node) []*yaml.Node {
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 {
		return nil
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "rules" && m.Content[i+1].Kind == yaml.SequenceNode {
			return m.Content[i+1].Content
		}
	}
	return nil
}

// lineOf returns the line of key's value in the rule's mapping, else the
// rule's own line.
func lineOf(n *yaml.Node, key string) int {
	if n == nil {
		return 0
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1].Line
		}
	}
	return n.Line
}

// build validates one rule.
func build(file string, s ruleSpec, n *yaml.Node) (parsed, error) {
	at := func(key string) int { return lineOf(n, key) }
	p := parsed{Rule: &Rule{Name: s.Name}, file: file, line: at("name"), disabled: s.Disabled}
	fail := func(key, format string, args ...any) (parsed, error) {
		prefix := ""
		if s.Name != "" {
			prefix = fmt.Sprintf("rule %q: ", s.Name)
		}
		return parsed{}, &LoadError{File: file, Line: at(key), Msg: prefix + fmt.Sprintf(format, args...)}
	}
	if !validName.MatchString(s.Name) {
		return fail("name", "invalid rule name %q (letters, digits, _ . -; starting with a letter)", s.Name)
	}
	p.Source = fmt.Sprintf("%s:%d", file, p.line)
	if s.Disabled {
		return p, nil
	}
	var err error
	if strings.TrimSpace(s.Expr) == "" {
		return fail("expr", "expr is required")
	}
	if p.expr, err = ParseExpr(s.Expr); err != nil {
		return fail("expr", "expr: %v", err)
	}
	p.Expr = s.Expr
	if p.For, err = parseDuration(s.For, 0); err != nil {
		return fail("for", "for: %v", err)
	}
	if p.KeepFiringFor, err = parseDuration(s.KeepFiringFor, DefaultKeepFiringFor); err != nil {
		return fail("keep_firing_for", "keep_firing_for: %v", err)
	}
	p.Severity = Severity(s.Severity)
	if !p.Severity.Valid() {
		return fail("severity", "severity %q is not one of info, warning, critical", s.Severity)
	}
	for k, v := range s.Labels {
		switch {
		case !validLabel.MatchString(k):
			return fail("labels", "invalid label name %q", k)
		case slices.Contains(reserved, k):
			return fail("labels", "label %q is set by the engine", k)
		case len(v) > 1024:
			return fail("labels", "label %q is longer than 1024 bytes", k)
		}
	}
	p.Labels = s.Labels
	if p.summary, err = parseTemplate(s.Name+".summary", s.Summary); err != nil {
		return fail("summary", "summary: %v", err)
	}
	if p.descr, err = parseTemplate(s.Name+".description", s.Description); err != nil {
		return fail("description", "description: %v", err)
	}
	p.Summary, p.Description, p.Ticket = s.Summary, s.Description, s.Ticket
	if s.Helpdesk != "" || s.Queue != "" {
		if !s.Ticket {
			return fail("helpdesk", "helpdesk and queue say where the rule's ticket opens: they need ticket: true")
		}
		if !validHelpdesk.MatchString(s.Helpdesk) {
			return fail("helpdesk", "helpdesk %q: name a connector of the collector's helpdesks file (1–32 letters, digits, '-' or '_')", s.Helpdesk)
		}
		if len(s.Queue) > 128 || strings.IndexFunc(s.Queue, func(r rune) bool { return r < ' ' || r > '~' }) >= 0 {
			return fail("queue", "queue %q: up to 128 printable ASCII characters", s.Queue)
		}
	}
	p.Helpdesk, p.Queue = s.Helpdesk, s.Queue
	return p, nil
}

var days = regexp.MustCompile(`^(\d{1,4})d$`)

// parseDuration reads a Go duration ("90s", "1h30m") or whole days ("2d");
// empty is def.
func parseDuration(s string, def time.Duration) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return def, nil
	}
	if g := days.FindStringSubmatch(s); g != nil {
		n, _ := strconv.Atoi(g[1])
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (want e.g. 90s, 10m, 1h30m, 2d)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return d, nil
}
