package redact

import (
	"sort"
	"strings"
)

// span is a byte range of a text found by one detector; prio orders rules
// (lower wins the marker) and kind/canon describe a pseudonym.
type span struct {
	start, end int
	prio       int
	kind       string
	canon      string
}

// marker is the replacement of a secret found by rule.
func marker(rule string) string {
	return "[REDACTED:" + rule + "]"
}

// text redacts secrets in s and, when enabled, pseudonymizes identifiers.
func (r *Redactor) text(s, where string) string {
	if s == "" {
		return s
	}
	s = r.secrets(s, where)
	if r.pseudo {
		s = r.pseudonymize(s, where)
	}
	return s
}

// hinted reports whether the lower-cased text holds one of the rule's hints.
func (ru *rule) hinted(lower string) bool {
	if len(ru.hints) == 0 {
		return true
	}
	for _, h := range ru.hints {
		if strings.Contains(lower, h) {
			return true
		}
	}
	return false
}

// valueWindow bounds the text a value pattern first looks at; a quoted
// value not closed in the window, or an accepted value that reaches its end,
// is matched again on the rest of the text, and a value after a run of
// blanks longer than the window in a window after them. Go's
// backtracking matcher clears state in proportion to its input, so matching
// each of many candidates against the whole text would be quadratic.
const valueWindow = 256

// matches returns the secret spans of one rule in s, in one pass.
func (ru *rule) matches(s string, prio int) []span {
	var out []span
	covered := 0 // end of the last accepted span: names inside it are redacted anyway
	for _, m := range ru.re.FindAllStringSubmatchIndex(s, -1) {
		if m[0] < covered {
			continue
		}
		cut := min(len(s), m[1]+valueWindow)
		st, en := ru.secretSpan(s, m, cut)
		if st < 0 && ru.value != nil && cut < len(s) {
			if wider := widen(s, m[1], cut); wider != cut {
				cut = wider
				st, en = ru.secretSpan(s, m, cut)
			}
		}
		if st < 0 || st >= en || (ru.accept != nil && !ru.accept(s, m, s[st:en])) {
			continue
		}
		if ru.value != nil && cut < len(s) && en >= cut {
			st, en = ru.secretSpan(s, m, len(s)) // the value may run past the window
		}
		out = append(out, span{start: st, end: en, prio: prio})
		covered = max(m[1], en)
	}
	return out
}

// widen returns how far to look again for the value after a name that ends
// at i, when none was found before cut: to the end of s for a quoted value
// (longer than the window), or a window past blanks (or =) that run past
// cut; else cut.
func widen(s string, i, cut int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '=') {
		i++
	}
	switch {
	case i >= len(s):
		return cut
	case s[i] == '"' || s[i] == '\'' || s[i] == '\\':
		return len(s)
	case i >= cut:
		return min(len(s), i+valueWindow)
	}
	return cut
}

// secretSpan returns the secret of match m: a submatch of m or, for a rule
// with a value pattern, of the value after m, looked for before end.
func (ru *rule) secretSpan(s string, m []int, end int) (int, int) {
	if ru.span != nil {
		return ru.span(s, m)
	}
	sub, base := m, 0
	if ru.value != nil {
		sub, base = ru.value.FindStringSubmatchIndex(s[m[1]:end]), m[1]
	}
	for _, g := range ru.groups {
		if sub != nil && sub[2*g] >= 0 {
			st, en := base+sub[2*g], base+sub[2*g+1]
			if ru.trim != "" {
				en = st + len(strings.TrimRight(s[st:en], ru.trim))
			}
			return st, en
		}
	}
	return -1, -1
}

// secrets replaces every secret in s by a marker. Overlapping finds are
// merged into one marker, named after the most specific rule, and each rule
// that took part is counted once.
func (r *Redactor) secrets(s, where string) string {
	var spans []span
	lower := strings.ToLower(s)
	for i, ru := range secretRules {
		if ru.hinted(lower) {
			spans = append(spans, ru.matches(s, i)...)
		}
	}
	if len(spans) == 0 {
		return s
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].start != spans[j].start {
			return spans[i].start < spans[j].start
		}
		return spans[i].end > spans[j].end
	})
	var b strings.Builder
	last := 0
	for i := 0; i < len(spans); {
		st, en, best := spans[i].start, spans[i].end, spans[i].prio
		rules := map[string]bool{secretRules[best].id: true}
		j := i + 1
		for ; j < len(spans) && spans[j].start < en; j++ {
			en = max(en, spans[j].end)
			best = min(best, spans[j].prio)
			rules[secretRules[spans[j].prio].id] = true
		}
		b.WriteString(s[last:st])
		b.WriteString(marker(secretRules[best].id))
		last = en
		for id := range rules {
			r.count(id, KindSecret, where)
		}
		i = j
	}
	b.WriteString(s[last:])
	return b.String()
}

// pseudonymize replaces IP and MAC addresses, email addresses and known host
// and user names by pseudonyms. Markers are left alone; where finds overlap
// the earliest and then the longest wins.
func (r *Redactor) pseudonymize(s, where string) string {
	spans := r.identifiers(s)
	if len(spans) == 0 {
		return s
	}
	taken := markerRE.FindAllStringIndex(s, -1)
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].start != spans[j].start {
			return spans[i].start < spans[j].start
		}
		return spans[i].end > spans[j].end
	})
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		if sp.start < last || overlaps(taken, sp) {
			continue
		}
		b.WriteString(s[last:sp.start])
		b.WriteString(r.pseudonym(sp.kind, sp.canon, s[sp.start:sp.end]))
		r.count(ruleOfKind[sp.kind], KindPseudonym, where)
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String()
}

// overlaps reports whether sp overlaps any of the ranges.
func overlaps(ranges [][]int, sp span) bool {
	for _, t := range ranges {
		if sp.start < t[1] && t[0] < sp.end {
			return true
		}
	}
	return false
}
