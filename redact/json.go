package redact

import (
	"bytes"
	"encoding/json"
	"io"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Rules applied by the JSON walker on top of the text rules.
const (
	// ruleSecretField redacts the value of a key named like a secret.
	ruleSecretField = "secret-field"
	// ruleDockerAuth redacts auths.*.auth and identitytoken of a Docker config.
	ruleDockerAuth = "docker-auth"
	// ruleFlagValue redacts the array element after "--password" and the like.
	ruleFlagValue = "cli-flag-secret"
)

// maxDepth bounds JSON nesting; deeper data fails closed.
const maxDepth = 512

// flagRE matches a lone command-line flag, as an argv array element.
var flagRE = regexp.MustCompile(`^--?[A-Za-z][A-Za-z0-9_.\-]*$`)

// frame is one open object or array of the JSON being walked.
type frame struct {
	obj     bool
	n       int    // members or elements written
	wantKey bool   // object: the next string token is a key
	key     string // object: the current member's key
	seg     string // the current member's path segment
	secret  string // rule that redacts every value inside
	auths   bool   // inside a Docker config "auths" object
	flag    string // array: the previous element was a secret flag
}

// walker re-encodes a JSON document token by token, redacting on the way.
type walker struct {
	r     *Redactor
	where string
	out   bytes.Buffer
	enc   *json.Encoder
	stack []frame
	done  bool
}

// json redacts b, reporting under where; unparseable data fails closed.
func (r *Redactor) json(b []byte, where string) []byte {
	if json.Valid(b) {
		if out, ok := r.walk(b, where); ok {
			return out
		}
	}
	r.count(KindUnparseable, KindUnparseable, where)
	return []byte(Unparseable)
}

// walk re-encodes b with every value redacted; false if b is not one value
// or nests too deep.
func (r *Redactor) walk(b []byte, where string) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	w := &walker{r: r, where: where}
	w.enc = json.NewEncoder(&w.out)
	w.enc.SetEscapeHTML(false)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil || !w.token(tok) {
			return nil, false
		}
	}
	if len(w.stack) != 0 || !w.done {
		return nil, false
	}
	return w.out.Bytes(), true
}

// token writes one token.
func (w *walker) token(tok json.Token) bool {
	n := len(w.stack)
	if n == 0 && w.done {
		return false
	}
	var top *frame
	if n > 0 {
		top = &w.stack[n-1]
	}
	if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
		if top == nil {
			return false
		}
		w.stack = w.stack[:n-1]
		w.out.WriteByte(byte(d))
		w.finish()
		return true
	}
	if top != nil && top.obj && top.wantKey {
		k, ok := tok.(string)
		if !ok {
			return false
		}
		if top.n > 0 {
			w.out.WriteByte(',')
		}
		kOut := w.r.text(k, w.path(n-1))
		w.str(kOut)
		w.out.WriteByte(':')
		top.key, top.seg, top.wantKey = k, segment(kOut), false
		return true
	}
	rule := ruleFor(top)
	if top != nil && !top.obj {
		if top.n > 0 {
			w.out.WriteByte(',')
		}
		top.seg = strconv.Itoa(top.n)
		if rule == "" {
			rule = top.flag
		}
		top.flag = ""
	}
	where := w.path(n)
	switch v := tok.(type) {
	case json.Delim:
		if n >= maxDepth {
			return false
		}
		auths := top != nil && (top.auths || (top.obj && strings.EqualFold(top.key, "auths")))
		w.out.WriteByte(byte(v))
		w.stack = append(w.stack, frame{obj: v == '{', wantKey: v == '{', secret: rule, auths: auths})
		return true
	case string:
		w.str(w.stringValue(top, v, rule, where))
		if top != nil && !top.obj && rule == "" && flagRE.MatchString(v) && secretKey(strings.TrimLeft(v, "-")) {
			top.flag = ruleFlagValue
		}
	case json.Number:
		if rule != "" {
			w.r.count(rule, KindSecret, where)
			w.str(marker(rule))
		} else {
			w.out.WriteString(v.String())
		}
	case bool:
		w.out.WriteString(strconv.FormatBool(v))
	case nil:
		w.out.WriteString("null")
	default:
		return false
	}
	w.finish()
	return true
}

// finish counts a completed value in its container.
func (w *walker) finish() {
	if n := len(w.stack); n > 0 {
		t := &w.stack[n-1]
		t.n++
		t.wantKey = t.obj
		return
	}
	w.done = true
}

// str writes s as a JSON string without HTML escaping.
func (w *walker) str(s string) {
	w.enc.Encode(s)
	w.out.Truncate(w.out.Len() - 1) // Encode's newline
}

// path is the location of the current value of the first depth frames, as
// where:/key/0/key with keys as written (already redacted).
func (w *walker) path(depth int) string {
	var b strings.Builder
	b.WriteString(w.where)
	b.WriteString(":")
	if depth == 0 {
		b.WriteString("/")
	}
	for _, f := range w.stack[:depth] {
		b.WriteString("/")
		b.WriteString(f.seg)
	}
	return b.String()
}

// segment is a path segment for a (redacted) key: / and ~ escaped as in a
// JSON pointer, cut to 40 runes.
func segment(k string) string {
	k = strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
	if rs := []rune(k); len(rs) > 40 {
		k = string(rs[:40]) + "…"
	}
	return k
}

// ruleFor returns the rule that redacts a value of the current member or
// element of top whole, or "".
func ruleFor(top *frame) string {
	switch {
	case top == nil:
		return ""
	case top.secret != "":
		return top.secret
	case !top.obj || !secretKey(top.key):
		return ""
	case top.auths && (strings.EqualFold(top.key, "auth") || strings.EqualFold(top.key, "identitytoken")):
		return ruleDockerAuth
	}
	return ruleSecretField
}

// stringValue redacts one string value. Under a secret key the value goes
// whole unless the text rules already turned it into markers; a host or
// user name field is pseudonymized whole.
func (w *walker) stringValue(top *frame, v, rule, where string) string {
	r := w.r
	if rule != "" {
		if placeholder(v) {
			return v
		}
		if s := r.secrets(v, where); onlyMarkers(s) {
			return s
		}
		r.count(rule, KindSecret, where)
		return marker(rule)
	}
	if r.pseudo && top != nil && top.obj {
		k, t := strings.ToLower(top.key), strings.TrimSpace(v)
		if _, err := netip.ParseAddr(t); hostKeys[k] && err != nil && hostRE.MatchString(t) {
			return r.nameField(kindHost, v, where, true)
		}
		if userKeys[k] && r.names[strings.ToLower(t)] == kindUser {
			return r.nameField(kindUser, v, where, false)
		}
	}
	return r.text(v, where)
}

// learn registers the host names and logged-in users that a JSON document
// names: values of hostname-like keys and users[].user / users[].host.
func (r *Redactor) learn(b []byte) {
	var v any
	if json.Unmarshal(b, &v) == nil {
		r.learnValue(v, 0)
	}
}

// learnValue walks a decoded value for learn.
func (r *Redactor) learnValue(v any, depth int) {
	if depth > maxDepth {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			lk := strings.ToLower(k)
			if s, ok := e.(string); ok && hostKeys[lk] {
				r.addName(kindHost, s)
			}
			if users, ok := e.([]any); ok && lk == "users" {
				for _, u := range users {
					m, _ := u.(map[string]any)
					for _, uk := range []string{"user", "username"} {
						if s, ok := m[uk].(string); ok {
							r.addName(kindUser, s)
						}
					}
					if s, ok := m["host"].(string); ok {
						r.addName(kindHost, s)
					}
				}
			}
			r.learnValue(e, depth+1)
		}
	case []any:
		for _, e := range x {
			r.learnValue(e, depth+1)
		}
	}
}
