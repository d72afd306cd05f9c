package redact

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sondehq/sonde/protocol"
)

// TestPlaceholders: values that only name or mask a secret stay, so that
// configuration stays readable; anything else after a secret name goes.
func TestPlaceholders(t *testing.T) {
	keep := []string{
		"password=$DB_PASS", "password=$1", "password=$AZ_09", "token=${API_TOKEN}", "token={{.Token}}", "password=%(pw)s",
		"password=<password>", "password=********", "password=xxxxxx", "password=none", "password=[REDACTED]",
		"password=\"\"",
	}
	for _, in := range keep {
		if got := New(Options{}).Text(in); got != in {
			t.Errorf("Text(%q) = %q, want it kept", in, got)
		}
	}
	redacted := map[string]string{
		"password=HUNTER2024":     "password=[REDACTED:config-secret]", // upper case and digits, but no $
		"password=$":              "password=[REDACTED:config-secret]", // a lone $ names nothing
		"password=$db_pass":       "password=[REDACTED:config-secret]", // not a variable's name
		"password=${API_TOKEN":    "password=[REDACTED:config-secret]", // not closed
		"password=<pass word>":    "password=[REDACTED:config-secret]", // a template has no blanks
		"password=<pw":            "password=[REDACTED:config-secret]",
		"password=xoxo1234":       "password=[REDACTED:config-secret]",
		"DB_PASSWORD=hunter22x":   "DB_PASSWORD=[REDACTED:env-secret]",
		"api_key: 'k3y-value'":    "api_key: '[REDACTED:config-secret]'",
		"\"secret\": \"s3cr3t!\"": "\"secret\": \"[REDACTED:config-secret]\"",
	}
	for in, want := range redacted {
		if got := New(Options{}).Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOneRulePerFind: a secret that two rules would find is counted under
// each rule that found it, and no rule counts what it leaves to another:
// NAME=value is the env rule's, not the config rule's.
func TestOneRulePerFind(t *testing.T) {
	for in, want := range map[string][]string{
		"DB_PASSWORD=hunter22x":                           {"env-secret"},
		"export DB_PASSWORD=hunter22x":                    {"env-secret"},
		"db_password=hunter22x":                           {"config-secret"},
		"--password=hunter22x":                            {"cli-flag-secret"},
		"Authorization: Basic aHVudGVy":                   {"auth-header"},
		"token: ghp_CANARYabcdefghijklmnopqrstuvwxyz0123": {"config-secret", "github-token"},
	} {
		r := New(Options{})
		r.Text(in)
		var got []string
		for _, rr := range r.Report().Rules {
			if rr.Count != 1 {
				t.Errorf("%q: %s counted %d times", in, rr.Rule, rr.Count)
			}
			got = append(got, rr.Rule)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%q: rules %v, want %v", in, got, want)
		}
	}
}

// TestSecretFieldKeepsSpecificMarker: under a secret key, a value the text
// rules recognize keeps their marker, which says what it was; anything
// else is replaced whole under the key's rule.
func TestSecretFieldKeepsSpecificMarker(t *testing.T) {
	r := New(Options{})
	got := string(r.JSON([]byte(`{"token":"ghp_CANARYabcdefghijklmnopqrstuvwxyz0123","pass":"a ghp_CANARYabcdefghijklmnopqrstuvwxyz0123 b"}`)))
	want := `{"token":"[REDACTED:github-token]","pass":"[REDACTED:secret-field]"}`
	if got != want {
		t.Errorf("JSON = %s, want %s", got, want)
	}
	rep := r.Report()
	if rep.Count("github-token") != 2 || rep.Count(ruleSecretField) != 1 {
		t.Errorf("report: %+v", rep)
	}
}

// TestLineAt: the context of a find is its own line, at most lineWindow
// bytes either side; a newline belongs to the line it ends.
func TestLineAt(t *testing.T) {
	s := "first line\nsecond line\nthird"
	for _, c := range []struct {
		i    int
		want string
	}{
		{0, "first line"}, {5, "first line"}, {10, "first line"}, {11, "second line"},
		{17, "second line"}, {22, "second line"}, {23, "third"}, {27, "third"},
	} {
		if got := lineAt(s, c.i); got != c.want {
			t.Errorf("lineAt(%q, %d) = %q, want %q", s, c.i, got, c.want)
		}
	}
	long := strings.Repeat("a", 2*lineWindow) + "X" + strings.Repeat("b", 2*lineWindow)
	mid := 2 * lineWindow
	if got := lineAt(long, mid); got != long[mid-lineWindow:mid+lineWindow] {
		t.Errorf("lineAt in a long line: %d bytes from %d, want %d bytes", len(got), strings.Index(long, got), 2*lineWindow)
	}
	if got := lineAt("ab\n"+long, 3+mid); got != long[mid-lineWindow:mid+lineWindow] {
		t.Errorf("lineAt in a long second line: %d bytes", len(got))
	}
}

// TestLineContext: the tools that make -p and -u take a password are
// looked for on the flag's own line only.
func TestLineContext(t *testing.T) {
	for in, want := range map[string]string{
		"mysql -u app -p s3cretpw9":               "mysql -u app -p [REDACTED:cli-flag-secret]",
		"ssh -p 2222 host\nmysql -u app -p s3cr9": "ssh -p 2222 host\nmysql -u app -p [REDACTED:cli-flag-secret]",
		"mysql -u app\nssh -p 2222 host":          "mysql -u app\nssh -p 2222 host",
		"mysql -e 'select 1'\ntar -p s3cretpw9":   "mysql -e 'select 1'\ntar -p s3cretpw9",
		"curl -u app:s3cretpw9 https://x":         "curl -u [REDACTED:cli-flag-secret] https://x",
		"curl https://x\nuseradd -u 1001:pw99x":   "curl https://x\nuseradd -u 1001:pw99x",
		"mysql -pS3cretpw9 db":                    "mysql -p[REDACTED:cli-flag-secret] db",
		"mysql db\nrsync -pvz src dst":            "mysql db\nrsync -pvz src dst",
	} {
		if got := New(Options{}).Text(in); got != want {
			t.Errorf("Text(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}

// TestWordBytes: what continues a name or a token.
func TestWordBytes(t *testing.T) {
	const word = "_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for c := range 256 {
		if got, want := wordByte(byte(c)), strings.IndexByte(word, byte(c)) >= 0; got != want {
			t.Errorf("wordByte(%q) = %v", rune(c), got)
		}
	}
}

// TestYAMLBlocks: a block scalar under a secret key is redacted to its
// last line indented deeper than the key, blank lines inside included;
// the next key at the same depth stays.
func TestYAMLBlocks(t *testing.T) {
	for in, want := range map[string]string{
		"smtp:\n  password: |\n    line1\n\n    line2\n  port: 587\nother: x": "smtp:\n  password: |\n    [REDACTED:config-secret]\n  port: 587\nother: x",
		"password: >-\n  folded\n  text\n":                                    "password: >-\n  [REDACTED:config-secret]\n",
		"password: |\n  at the end":                                           "password: |\n  [REDACTED:config-secret]",
		"password: |\n\n  after a blank\n":                                    "password: |\n\n  [REDACTED:config-secret]\n",
		"password: |":                                                         "password: |",
		"password: |\n":                                                       "password: |\n",
		"password: |\nport: 587":                                              "password: |\nport: 587",
		"  password: |\n  port: 587":                                          "  password: |\n  port: 587",
		"description: |\n  not a secret\n":                                    "description: |\n  not a secret\n",
	} {
		if got := New(Options{}).Text(in); got != want {
			t.Errorf("Text(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}

// TestValueWindows: values are looked for in a window after their name,
// and followed past it: a quoted value after a long run of blanks, and a
// name with nothing after it but blanks.
func TestValueWindows(t *testing.T) {
	blanks := strings.Repeat(" ", valueWindow+44)
	tabs := strings.Repeat("\t", valueWindow+44)
	for in, want := range map[string]string{
		"x password:" + blanks + `"s3cret value"`: "x password:" + blanks + `"[REDACTED:config-secret]"`,
		"x password:" + blanks + `'s3cret value'`: "x password:" + blanks + `'[REDACTED:config-secret]'`,
		"x password:" + blanks + `\"s3cret v\" y`: "x password:" + blanks + `\"[REDACTED:config-secret]\" y`,
		"x password:" + blanks:                    "x password:" + blanks,
		"x password:" + tabs + `"s3cret value"`:   "x password:" + tabs + `"[REDACTED:config-secret]"`,
		"app --password" + blanks + `"s3cret v"`:  "app --password" + blanks + `[REDACTED:cli-flag-secret]`,
		"x password:" + blanks + "s3cretvalue":    "x password:" + blanks + "[REDACTED:config-secret]",
	} {
		if got := New(Options{}).Text(in); got != want {
			t.Errorf("Text(%.30q…)\n got %q\nwant %q", in, got, want)
		}
	}
}

// TestSecretsAnywhere: a secret is found at the very start and the very
// end of a text, and a token needs 8 bytes with a digit to be a bearer's.
func TestSecretsAnywhere(t *testing.T) {
	for in, want := range map[string]string{
		"ghp_CANARYabcdefghijklmnopqrstuvwxyz0123":   "[REDACTED:github-token]",
		"x ghp_CANARYabcdefghijklmnopqrstuvwxyz0123": "x [REDACTED:github-token]",
		"bearer abcd1234":                     "bearer [REDACTED:bearer-token]",
		"bearer abc1234":                      "bearer abc1234",
		"bearer abcdefgh":                     "bearer abcdefgh",
		"curl -u :tok3n https://x":            "curl -u [REDACTED:cli-flag-secret] https://x",
		"curl -u app:1234 https://x":          "curl -u app:1234 https://x",
		"https://u:s3cret@h.example.com/":     "https://u:[REDACTED:url-password]@h.example.com/",
		"postgres://u:s3cret@db/app":          "postgres://u:[REDACTED:db-url-password]@db/app",
		"https://u:${PASS}@h.example.com/":    "https://u:${PASS}@h.example.com/",
		"GET /x?code=abc123&state=ok":         "GET /x?code=[REDACTED:url-query-secret]&state=ok",
		"GET /x?password=********&state=ok":   "GET /x?password=********&state=ok",
		"Cookie: <none>":                      "Cookie: <none>",
		"Server=s;Password=p4ss;Encrypt=true": "Server=s;Password=[REDACTED:connection-string-password];Encrypt=true",
		"note: the password=p4ss above":       "note: the password=[REDACTED:config-secret] above",
		"AccountKey=${KEY}":                   "AccountKey=${KEY}",
	} {
		if got := New(Options{}).Text(in); got != want {
			t.Errorf("Text(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}

// TestSecretKeyWords: a key is split into words at any run of separators
// and at camelCase, so doubled separators change nothing.
func TestSecretKeyWords(t *testing.T) {
	for _, k := range []string{"api__key", "x-api--key", "access..key", "__password", "client__secret__", "API_KEY"} {
		if !secretKey(k) {
			t.Errorf("secretKey(%q) = false", k)
		}
	}
	for _, k := range []string{"token__url", "password--policy", "_", "--"} {
		if secretKey(k) {
			t.Errorf("secretKey(%q) = true", k)
		}
	}
}

// TestMarkerEdges: a marker replaces the secret only, not the blanks or
// the comma after it; finds that overlap become one marker, finds that
// only touch stay two.
func TestMarkerEdges(t *testing.T) {
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
	for in, want := range map[string]string{
		"x password=hunter22x, user=bob":                                       "x password=[REDACTED:config-secret], user=bob",
		"Server=s;Password=p4ss   ;Encrypt=true":                               "Server=s;Password=[REDACTED:connection-string-password]   ;Encrypt=true",
		"Cookie: sid=abc123   \nnext":                                          "Cookie: [REDACTED:cookie-header]   \nnext",
		"Authorization: Basic aHVudGVy \t\nnext":                               "Authorization: Basic [REDACTED:auth-header] \t\nnext",
		"-----BEGIN PRIVATE KEY-----\nMIIabc\n-----END PRIVATE KEY-----" + jwt: "[REDACTED:pem-private-key][REDACTED:jwt]",
		"token: ghp_CANARYabcdefghijklmnopqrstuvwxyz0123":                      "token: [REDACTED:github-token]",
	} {
		if got := New(Options{}).Text(in); got != want {
			t.Errorf("Text(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}

// TestMarkersStay: pseudonymization never touches a marker, even where a
// learned name spells a piece of one, and replaces what touches it.
func TestMarkersStay(t *testing.T) {
	r := New(Options{Pseudonymize: true, Salt: []byte("s")})
	r.Document(&protocol.Document{Kind: "full", Facts: &protocol.Facts{Hostname: "jwt"},
		Probes: []protocol.ProbeJSON{{Name: "system", Data: json.RawMessage(`{"users":[{"user":"Redacted"}]}`)}}})
	names := func() int { return r.Report().Count("username") + r.Report().Count("hostname") }
	before := names()
	in := "a [REDACTED:config-secret] b [REDACTED:jwt] c [REDACTED:github-token]10.1.2.3 d 10.1.2.4[REDACTED:jwt]"
	out := r.Text(in)
	if got := markerRE.FindAllString(out, -1); len(got) != 4 {
		t.Errorf("markers in %q: %q, want all 4 kept", out, got)
	}
	if strings.Contains(out, "10.1.2.") {
		t.Errorf("an address touching a marker was kept: %q", out)
	}
	if n := names() - before; n != 0 {
		t.Errorf("names counted %d times in markers: %q", n, out)
	}
}

// TestWiden: when no value follows a name within the window, the second
// look goes to the end of the text only for a quoted value (which may be
// long); past a run of blanks it looks at one window after them, so that a
// text of many such names stays linear; with nothing but blanks left, or a
// value that is there, it does not look again.
func TestWiden(t *testing.T) {
	blanks := strings.Repeat(" ", valueWindow+10)
	tail := strings.Repeat("x", 4*valueWindow)
	for _, c := range []struct {
		name string
		s    string
		i    int
		want int
	}{
		{"quote after blanks", "k:" + blanks + `"v` + tail, 2, 2 + len(blanks) + 2 + len(tail)},
		{"quote at once", `k:'v` + tail, 2, 2 + 2 + len(tail)},
		{"escaped quote", `k:\"v` + tail, 2, 2 + 3 + len(tail)},
		{"value past blanks", "k:" + blanks + "v" + tail, 2, 2 + len(blanks) + valueWindow},
		{"value past blanks and =", "k:" + strings.Repeat("= \t", 100) + "v" + tail, 2, 2 + 300 + valueWindow},
		{"value past blanks near the end", "k:" + blanks + "v", 2, 2 + len(blanks) + 1},
		{"blanks to the end", "k:" + blanks, 2, 2 + valueWindow},
		{"value in the window", "k: v" + tail, 2, 2 + valueWindow},
	} {
		cut := min(len(c.s), c.i+valueWindow)
		if got := widen(c.s, c.i, cut); got != c.want {
			t.Errorf("%s: widen = %d, want %d (cut %d, len %d)", c.name, got, c.want, cut, len(c.s))
		}
	}
}
