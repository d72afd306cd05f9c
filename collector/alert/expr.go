package alert

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Bounds on an expression, so that a rule file cannot make the parser or
// the evaluator work without end.
const (
	maxExprLen   = 2048
	maxExprDepth = 16
)

// Expr is a parsed expression. The language:
//
//	expr     = and { "or" and }
//	and      = term { "and" term }
//	term     = "(" expr ")" | operand cmp operand    (one field, one number)
//	operand  = ["-"] number | vector
//	vector   = field [ "{" matcher { "," matcher } "}" ] | "rate" "(" vector ")"
//	matcher  = label ( "=" | "!=" | "=~" | "!~" ) "string"
//	cmp      = ">" | ">=" | "<" | "<=" | "==" | "!="
//
// A field ("disk.used_ratio") names an entry of the catalogue (Fields) and
// yields one series per item, with labels (mountpoint, unit, interface);
// rate() is the per-second increase of a counter since the previous
// sample. A comparison keeps the series for which it holds; "a and b"
// keeps the series of a that have a series in b agreeing on their common
// labels; "a or b" is the series of a and those of b with other labels.
type Expr struct {
	src  string
	root node
}

// String returns the expression as written.
func (e *Expr) String() string { return e.src }

// ExprError is a syntax or catalogue error in an expression.
type ExprError struct {
	// Col is the 1-based byte column of the offending token.
	Col int
	Msg string
}

func (e *ExprError) Error() string { return fmt.Sprintf("column %d: %s", e.Col, e.Msg) }

// ParseExpr parses an expression and checks its fields against the
// catalogue.
func ParseExpr(s string) (*Expr, error) {
	if len(s) > maxExprLen {
		return nil, &ExprError{1, fmt.Sprintf("expression longer than %d bytes", maxExprLen)}
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	root, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errAt(t, "unexpected %s", describe(t))
	}
	return &Expr{src: s, root: root}, nil
}

type parser struct {
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) errAt(t token, format string, args ...any) error {
	return &ExprError{t.pos + 1, fmt.Sprintf(format, args...)}
}

func describe(t token) string {
	if t.kind == tEOF {
		return "end of expression"
	}
	return strconv.Quote(t.text)
}

func (p *parser) is(kind tokKind, text string) bool {
	t := p.peek()
	return t.kind == kind && t.text == text
}

func (p *parser) expect(kind tokKind, text string) error {
	if t := p.next(); t.kind != kind || t.text != text {
		return p.errAt(t, "expected %q, found %s", text, describe(t))
	}
	return nil
}

func (p *parser) or() (node, error) {
	return p.chain("or", p.and)
}

func (p *parser) and() (node, error) {
	return p.chain("and", p.term)
}

// chain parses operands joined by the keyword word, left to right.
func (p *parser) chain(word string, operand func() (node, error)) (node, error) {
	left, err := operand()
	if err != nil {
		return nil, err
	}
	for p.is(tIdent, word) {
		p.next()
		right, err := operand()
		if err != nil {
			return nil, err
		}
		left = &boolNode{and: word == "and", l: left, r: right}
	}
	return left, nil
}

func (p *parser) term() (node, error) {
	if p.is(tPunct, "(") {
		t := p.next()
		if p.depth++; p.depth > maxExprDepth {
			return nil, p.errAt(t, "parentheses nested deeper than %d", maxExprDepth)
		}
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		p.depth--
		return n, p.expect(tPunct, ")")
	}
	start := p.peek()
	lv, lnum, err := p.operand()
	if err != nil {
		return nil, err
	}
	opTok := p.next()
	op, ok := cmpOps[opTok.text]
	if opTok.kind != tOp || !ok {
		return nil, p.errAt(opTok, "expected a comparison (> >= < <= == !=), found %s", describe(opTok))
	}
	rv, rnum, err := p.operand()
	if err != nil {
		return nil, err
	}
	switch {
	case lv != nil && rv == nil:
		return &cmpNode{vec: lv, op: op, num: rnum}, nil
	case lv == nil && rv != nil:
		return &cmpNode{vec: rv, op: op.flip(), num: lnum}, nil
	case lv == nil:
		return nil, p.errAt(start, "a comparison needs a field, such as disk.used_ratio")
	default:
		return nil, p.errAt(start, "compare a field with a number, not with another field")
	}
}

// operand parses a number (vec nil) or a vector.
func (p *parser) operand() (*vectorNode, float64, error) {
	neg := false
	if p.is(tPunct, "-") {
		p.next()
		neg = true
	}
	t := p.peek()
	if t.kind == tNumber {
		p.next()
		v, err := strconv.ParseFloat(t.text, 64)
		if err != nil || math.IsInf(v, 0) {
			return nil, 0, p.errAt(t, "invalid number %q", t.text)
		}
		if neg {
			v = -v
		}
		return nil, v, nil
	}
	if neg {
		return nil, 0, p.errAt(t, "expected a number after \"-\", found %s", describe(t))
	}
	v, err := p.vector()
	return v, 0, err
}

func (p *parser) vector() (*vectorNode, error) {
	t := p.next()
	if t.kind != tIdent || t.text == "and" || t.text == "or" {
		return nil, p.errAt(t, "expected a field or a number, found %s", describe(t))
	}
	if t.text == "rate" && p.is(tPunct, "(") {
		p.next()
		inner, err := p.vector()
		if err != nil {
			return nil, err
		}
		if inner.rate {
			return nil, p.errAt(t, "rate() of a rate")
		}
		if !inner.field.counter {
			return nil, p.errAt(t, "rate() needs a counter (%s), not %s", strings.Join(counterNames(), ", "), inner.field.name)
		}
		inner.rate = true
		return inner, p.expect(tPunct, ")")
	}
	f, ok := catalogue[t.text]
	if !ok {
		return nil, p.errAt(t, "unknown field %q (known: %s)", t.text, strings.Join(fieldNames(), ", "))
	}
	v := &vectorNode{field: f}
	if !p.is(tPunct, "{") {
		return v, nil
	}
	p.next()
	for !p.is(tPunct, "}") {
		m, err := p.matcher(f)
		if err != nil {
			return nil, err
		}
		v.matchers = append(v.matchers, m)
		if !p.is(tPunct, ",") {
			break
		}
		p.next()
	}
	return v, p.expect(tPunct, "}")
}

func (p *parser) matcher(f *field) (labelMatcher, error) {
	name := p.next()
	if name.kind != tIdent {
		return labelMatcher{}, p.errAt(name, "expected a label name, found %s", describe(name))
	}
	if !f.hasLabel(name.text) {
		return labelMatcher{}, p.errAt(name, "%s has no label %q (labels: %s)", f.name, name.text, strings.Join(f.labels, ", "))
	}
	op := p.next()
	if op.kind != tOp || (op.text != "=" && op.text != "!=" && op.text != "=~" && op.text != "!~") {
		return labelMatcher{}, p.errAt(op, "expected = != =~ or !~, found %s", describe(op))
	}
	val := p.next()
	if val.kind != tString {
		return labelMatcher{}, p.errAt(val, "expected a quoted string, found %s", describe(val))
	}
	m := labelMatcher{name: name.text, value: val.text, negate: op.text[0] == '!'}
	if strings.HasSuffix(op.text, "~") {
		re, err := regexp.Compile("^(?:" + val.text + ")$")
		if err != nil {
			return labelMatcher{}, p.errAt(val, "invalid regular expression: %v", err)
		}
		m.re = re
	}
	return m, nil
}
