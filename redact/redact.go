// Package redact removes secrets from diagnostic data, and optionally
// replaces network and personal identifiers by pseudonyms that are stable
// within one bundle. One set of rules serves both passes: the agent scrubs
// command lines and log lines before they leave the machine, the collector
// scrubs each bundle before it leaves the collector.
//
// Secrets are replaced by [REDACTED:<rule>], where rule names the detector
// (see Rules). Detection runs on the original text with every rule; finds
// that overlap are merged, so a generic rule (password=…) and a specific one
// (a GitHub token) never leave a piece of a secret between them.
//
// Pseudonyms are HMAC-SHA256(salt, kind NUL value), shortened to 6 hex digits
// (longer on collision): ip-1a2b3c, ip6-…, mac-…, email-…@example.invalid,
// host-…, user-…. Loopback, unspecified, multicast and broadcast addresses and
// netmasks (255.x.x.x) are kept: they identify no machine. Private and
// link-local addresses are replaced (an EUI-64 link-local address embeds a
// MAC). Host names come from Facts and "hostname"-like fields, user names from
// a probe's users[].user; names shorter than 3 bytes ("vm") are replaced only
// in the fields that hold them, longer ones everywhere on word boundaries.
// System accounts (root, nobody, www-data…) are kept.
//
// Data that cannot be parsed fails closed: it is replaced whole, never
// shipped raw.
package redact

import (
	"crypto/rand"
	"regexp"
	"sort"
	"sync"
)

// Report kinds: what a rule did.
const (
	KindSecret      = "secret"
	KindPseudonym   = "pseudonym"
	KindUnparseable = "unparseable"
)

// Unparseable is the JSON value that replaces data that is not valid JSON.
const Unparseable = `"[unparseable: redacted]"`

// maxWhere bounds the locations listed per rule in a Report.
const maxWhere = 32

// Options configures a Redactor.
type Options struct {
	// Pseudonymize replaces IP and MAC addresses, email addresses and the
	// machine's host and user names by pseudonyms.
	Pseudonymize bool
	// Salt keys the pseudonyms; use a fresh one per bundle. When empty, New
	// draws a random salt.
	Salt []byte
}

// Redactor redacts the data of one bundle. It is safe for concurrent use;
// names learned from a Document are also replaced in later Text calls.
type Redactor struct {
	mu      sync.Mutex
	pseudo  bool
	salt    []byte
	tallies map[string]*tally
	mapping map[string]string // pseudonym → original
	byValue map[string]string // kind NUL canonical value → pseudonym
	names   map[string]string // lower-case host or user name → kind
	namesRE *regexp.Regexp
	source  map[string]*tally // what agents scrubbed, by rule (Report.AtSource)
	sourced map[[3]string]bool
}

// tally is what one rule did.
type tally struct {
	kind    string
	count   int
	where   []string
	seen    map[string]bool
	leftOff int
}

// Report lists what was redacted or pseudonymized, by rule. It holds counts
// and locations (probe names and JSON paths of redacted output), never a
// secret or an original value.
type Report struct {
	Rules []RuleReport `json:"rules"`
	// AtSource is what the agent scrubbed before the data left its
	// machine, as its snapshots say (protocol.ProbeResult.Scrubbed), by
	// rule, located by probe name; each snapshot counted once.
	AtSource []RuleReport `json:"at_source"`
}

// RuleReport is what one rule did.
type RuleReport struct {
	Rule  string `json:"rule"`
	Kind  string `json:"kind"`
	Count int    `json:"count"`
	// Where lists distinct locations, such as "processes:/top_cpu/0/cmdline".
	Where        []string `json:"where,omitempty"`
	WhereLeftOff int      `json:"where_left_off,omitempty"`
}

// New returns a Redactor for one bundle.
func New(opts Options) *Redactor {
	salt := append([]byte(nil), opts.Salt...)
	if len(salt) == 0 {
		salt = make([]byte, 32)
		rand.Read(salt)
	}
	return &Redactor{
		pseudo:  opts.Pseudonymize,
		salt:    salt,
		tallies: map[string]*tally{},
		mapping: map[string]string{},
		byValue: map[string]string{},
		names:   map[string]string{},
		source:  map[string]*tally{},
		sourced: map[[3]string]bool{},
	}
}

// Rules lists the IDs of the secret rules, most specific first.
func Rules() []string {
	var ids []string
	seen := map[string]bool{}
	for _, ru := range secretRules {
		if !seen[ru.id] {
			seen[ru.id] = true
			ids = append(ids, ru.id)
		}
	}
	return append(ids, ruleSecretField)
}

// Text redacts free text: log lines, command lines, configuration lines.
func (r *Redactor) Text(s string) string {
	return r.TextAt(s, "text")
}

// TextAt is Text with the location reported for what it finds, such as
// "log:syslog". The location must not hold a secret.
func (r *Redactor) TextAt(s, where string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.text(s, where)
}

// JSON redacts a JSON document: every string (object keys included) as text,
// and the values of keys named like secrets (password, token, api_key,
// authorization, cookie, credential…) whole. Object order and numbers are
// kept. Data that is not one valid JSON value is replaced by Unparseable.
func (r *Redactor) JSON(b []byte) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pseudo {
		r.learn(b)
	}
	return r.json(b, "json")
}

// Mapping returns pseudonym → original value, for the collector's records
// only: it must never go into a bundle.
func (r *Redactor) Mapping() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := make(map[string]string, len(r.mapping))
	for k, v := range r.mapping {
		m[k] = v
	}
	return m
}

// Report returns what the Redactor did so far, rules sorted by ID.
func (r *Redactor) Report() Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Report{Rules: reports(r.tallies), AtSource: reports(r.source)}
}

// reports lists tallies as rule reports, sorted by rule ID.
func reports(tallies map[string]*tally) []RuleReport {
	out := []RuleReport{}
	for id, t := range tallies {
		out = append(out, RuleReport{
			Rule: id, Kind: t.kind, Count: t.count,
			Where: append([]string(nil), t.where...), WhereLeftOff: t.leftOff,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rule < out[j].Rule })
	return out
}

// Count returns how often a rule fired.
func (rep Report) Count(rule string) int {
	for _, rr := range rep.Rules {
		if rr.Rule == rule {
			return rr.Count
		}
	}
	return 0
}

// count records one find of a rule at a location.
func (r *Redactor) count(rule, kind, where string) {
	record(r.tallies, rule, kind, where, 1)
}

// record adds n finds of a rule at a location to tallies.
func record(tallies map[string]*tally, rule, kind, where string, n int) {
	t := tallies[rule]
	if t == nil {
		t = &tally{kind: kind, seen: map[string]bool{}}
		tallies[rule] = t
	}
	t.count += n
	if t.seen[where] {
		return
	}
	t.seen[where] = true
	if len(t.where) < maxWhere {
		t.where = append(t.where, where)
	} else {
		t.leftOff++
	}
}
