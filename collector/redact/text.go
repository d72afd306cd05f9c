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

// matches returns the secret spans of one rule in s. A rejected match does
// not hide a later one: the search resumes inside it.
func (ru *rule) matches(s string, prio int) []span {
	var out []span
	for pos := 0; pos <= len(s); {
		m := ru.re.FindStringSubmatchIndex(s[pos:])
		if m == nil {
			break
		}
		for i := range m {
			if m[i] >= 0 {
				m[i] += pos
			}
		}
		st, en := -1, -1
		for _, g := range ru.groups {
			if m[2*g] >= 0 {
				st, en = m[2*g], m[2*g+1]
				break
			}
		}
		if st >= 0 && ru.trim != "" {
			en = st + len(strings.TrimRight(s[st:en], ru.trim))
		}
		next := m[1]
		if st >= 0 && st < en && (ru.accept == nil || ru.accept(s, m, s[st:en])) {
			out = append(out, span{start: st, end: en, prio: prio})
		} else if !ru.line {
			next = m[0] + 1
			if st > m[0] {
				next = st
			}
		}
		if next <= pos {
			next = pos + 1
		}
		pos = next
	}
	return out
}

// secrets replaces every secret in s by a marker. Overlapping finds are
// merged into one marker, named after the most specific rule, and each rule
// that took part is counted once.
func (r *Redactor) secrets(s, where string) string {
	var spans []span
	for i, ru := range secretRules {
		spans = append(spans, ru.matches(s, i)...)
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
