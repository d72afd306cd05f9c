package alert

import (
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sondehq/sonde/protocol"
)

// maxSeries bounds the series one field yields for one agent: a snapshot
// with ten thousand mounts raises no more than this many alerts per rule.
const maxSeries = 256

// sample is one series' value at evaluation time.
type sample struct {
	labels map[string]string
	value  float64
}

// evalCtx is one agent's data during one evaluation.
type evalCtx struct {
	in        *Input
	now       time.Time
	os        string
	cur, prev *docView
}

func newEvalCtx(in *Input, now time.Time) *evalCtx {
	c := &evalCtx{in: in, now: now, os: in.OS}
	if in.Health != nil {
		c.cur = &docView{doc: in.Health}
		if c.os == "" && in.Health.Facts != nil {
			c.os = in.Health.Facts.OS
		}
	}
	if in.Previous != nil {
		c.prev = &docView{doc: in.Previous}
	}
	return c
}

type node interface {
	eval(c *evalCtx) []sample
}

type cmpOp int

const (
	opGT cmpOp = iota
	opGE
	opLT
	opLE
	opEQ
	opNE
)

var cmpOps = map[string]cmpOp{">": opGT, ">=": opGE, "<": opLT, "<=": opLE, "==": opEQ, "!=": opNE}

// flip returns the operator with its operands swapped: 5 < x is x > 5.
func (o cmpOp) flip() cmpOp {
	switch o {
	case opGT:
		return opLT
	case opGE:
		return opLE
	case opLT:
		return opGT
	case opLE:
		return opGE
	}
	return o
}

func (o cmpOp) holds(a, b float64) bool {
	switch o {
	case opGT:
		return a > b
	case opGE:
		return a >= b
	case opLT:
		return a < b
	case opLE:
		return a <= b
	case opEQ:
		return a == b
	}
	return a != b
}

type labelMatcher struct {
	name, value string
	negate      bool
	re          *regexp.Regexp
}

func (m labelMatcher) matches(labels map[string]string) bool {
	v := labels[m.name]
	ok := v == m.value
	if m.re != nil {
		ok = m.re.MatchString(v)
	}
	return ok != m.negate
}

// vectorNode is a field, its matchers, and whether rate() applies.
type vectorNode struct {
	field    *field
	rate     bool
	matchers []labelMatcher
}

func (v *vectorNode) eval(c *evalCtx) []sample {
	var out []sample
	if v.rate {
		out = rate(v.field, c)
	} else {
		out = v.field.samples(c, c.cur)
	}
	return slices.DeleteFunc(out, func(s sample) bool {
		if math.IsNaN(s.value) || math.IsInf(s.value, 0) {
			return true
		}
		for _, m := range v.matchers {
			if !m.matches(s.labels) {
				return true
			}
		}
		return false
	})
}

// rate is the per-second increase of a counter between the previous
// sample and the current one, per series. A counter that went back (the
// machine restarted) or samples out of order give no value.
func rate(f *field, c *evalCtx) []sample {
	if c.cur == nil || c.prev == nil {
		return nil
	}
	dt := c.cur.doc.CapturedAt.Sub(c.prev.doc.CapturedAt).Seconds()
	if dt <= 0 {
		return nil
	}
	before := map[string]float64{}
	for _, s := range f.samples(c, c.prev) {
		before[signature(s.labels)] = s.value
	}
	var out []sample
	for _, s := range f.samples(c, c.cur) {
		if b, ok := before[signature(s.labels)]; ok && s.value >= b {
			out = append(out, sample{labels: s.labels, value: (s.value - b) / dt})
		}
	}
	return out
}

type cmpNode struct {
	vec *vectorNode
	op  cmpOp
	num float64
}

func (n *cmpNode) eval(c *evalCtx) []sample {
	return slices.DeleteFunc(n.vec.eval(c), func(s sample) bool { return !n.op.holds(s.value, n.num) })
}

type boolNode struct {
	and  bool
	l, r node
}

func (n *boolNode) eval(c *evalCtx) []sample {
	left := n.l.eval(c)
	if n.and {
		if len(left) == 0 {
			return nil
		}
		right := n.r.eval(c)
		return slices.DeleteFunc(left, func(l sample) bool {
			return !slices.ContainsFunc(right, func(r sample) bool { return agree(l.labels, r.labels) })
		})
	}
	seen := map[string]bool{}
	for _, s := range left {
		seen[signature(s.labels)] = true
	}
	for _, s := range n.r.eval(c) {
		if sig := signature(s.labels); !seen[sig] {
			seen[sig] = true
			left = append(left, s)
		}
	}
	return left
}

// agree reports whether two label sets have the same value for every
// label both have.
func agree(a, b map[string]string) bool {
	for k, v := range a {
		if w, ok := b[k]; ok && w != v {
			return false
		}
	}
	return true
}

// signature is a label set as one string, the same for equal sets.
func signature(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(labels[k])
		b.WriteByte(0xff)
	}
	return b.String()
}

// eval evaluates e for one agent; series beyond maxSeries are dropped.
func (e *Expr) eval(c *evalCtx) []sample {
	out := e.root.eval(c)
	if len(out) > maxSeries {
		out = out[:maxSeries]
	}
	return out
}

// docView is a snapshot whose probes are decoded once per evaluation.
type docView struct {
	doc   *protocol.Document
	cache map[string]any
}
