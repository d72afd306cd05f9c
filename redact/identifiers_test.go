package redact

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/sondehq/sonde/protocol"
)

// withNames is a pseudonymizing Redactor that knows the host
// ws-0042.corp.example.com and the users bob and ann.
func withNames(t *testing.T) *Redactor {
	t.Helper()
	r := New(Options{Pseudonymize: true, Salt: []byte("s")})
	r.Document(&protocol.Document{Kind: "full", Facts: &protocol.Facts{Hostname: "ws-0042.corp.example.com"},
		Probes: []protocol.ProbeJSON{{Name: "system", Data: json.RawMessage(`{"users":[{"user":"bob"},{"user":"ann"}]}`)}}})
	return r
}

// TestIdentifierEdges: where an identifier starts and ends. In want, P
// stands for a pseudonym.
func TestIdentifierEdges(t *testing.T) {
	for in, want := range map[string]string{
		// MAC addresses
		"ether 02:42:ac:11:00:02 brd":   "ether P brd",
		"none 00:00:00:00:00:00 here":   "",
		"brd ff:ff:ff:ff:ff:ff here":    "",
		"key x:02:42:ac:11:00:02 end":   "", // part of a longer colon run
		"key 02:42:ac:11:00:02:ff end":  "",
		"id 02-42-ac-11-00-02-4a1b end": "", // part of a longer dash run
		"ether 02-42-ac-11-00-02-":      "ether P-",
		"ether 02-42-ac-11-00-02-.":     "ether P-.",
		"ether 02:42:AC:11:00:02.":      "ether P.",
		// IPv4
		"peer 10.1.2.3:443 up":    "peer P:443 up",
		"from 10.1.2.3.":          "from P.",
		"version 1.10.1.2.3 here": "",
		"kernel v10.1.2.3 here":   "",
		"oid 2.5.10.1.2.3x":       "",
		"net .10.1.2.3 here":      "",
		"mask 255.255.255.0 lo 127.0.0.1 any 0.0.0.0 mc 224.0.0.251": "",
		"bad 10.1.2.300 here": "",
		// IPv6
		"dial 2001:db8::7: connection refused": "dial P: connection refused",
		"addr:fe80::1%eth0":                    "addr:P%eth0",
		"lo ::1 mc ff02::1 any ::":             "",
		"call std::vector and x2001:db8::7":    "",
		"name.2001:db8::7 here":                "",
		"end 2001:db8::7.":                     "end P.",
		"mapped ::ffff:10.1.2.3 too":           "mapped P too",
		"lo ::ffff:127.0.0.1 here":             "",
		// names
		"bob logged in":                      "P logged in",
		"BOB logged in":                      "P logged in",
		"bobcat and xbob and .bob and bob_1": "",
		"see bob.smith@":                     "",
		"ask bob.":                           "ask P.",
		"host ws-0042.corp.example.com up":   "host P up",
		"host ws-0042.lan up":                "host P.lan up",
		"ann and annex":                      "P and annex",
	} {
		if want == "" {
			want = in
		}
		parts := strings.Split(want, "P")
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		re := regexp.MustCompile("^" + strings.Join(parts, `(?:`+pseudonymRE.String()+`)`) + "$")
		if out := withNames(t).Text(in); !re.MatchString(out) {
			t.Errorf("Text(%q) = %q, want %q", in, out, want)
		}
	}
}

// TestHostNameFields: a field that names the host is pseudonymized whole
// as a host, unless it holds an address, which is an address's pseudonym.
func TestHostNameFields(t *testing.T) {
	r := New(Options{Pseudonymize: true, Salt: []byte("s")})
	out := r.Document(&protocol.Document{Kind: "full", Facts: &protocol.Facts{Hostname: "10.9.8.7"},
		Probes: []protocol.ProbeJSON{{Name: "system", Data: json.RawMessage(`{"hostname":"10.9.8.7","fqdn":"db1.example.com","node_name":" "}`)}}})
	ip := inverse(r.Mapping())["10.9.8.7"]
	if !strings.HasPrefix(ip, "ip-") || out.Facts.Hostname != ip {
		t.Errorf("facts hostname %q, want the address's pseudonym %q", out.Facts.Hostname, ip)
	}
	db1 := inverse(r.Mapping())["db1.example.com"]
	want := `{"hostname":"` + ip + `","fqdn":"` + db1 + `","node_name":" "}`
	if got := string(out.Probes[0].Data); !strings.HasPrefix(db1, "host-") || got != want {
		t.Errorf("system data\n got %s\nwant %s", got, want)
	}
}

// TestNameLimits: DNS names are at most 253 bytes; longer values in a host
// field are not learned as names (they are text, redacted as such).
func TestNameLimits(t *testing.T) {
	label := strings.Repeat("a", 62)
	name253 := strings.Join([]string{label, label, label, strings.Repeat("b", 61)}, ".") // 62*3+61+3 = 250
	name253 += "ccc"
	if len(name253) != 253 {
		t.Fatalf("len %d", len(name253))
	}
	for _, c := range []struct {
		name    string
		learned bool
	}{{name253, true}, {name253 + "d", false}} {
		r := New(Options{Pseudonymize: true, Salt: []byte("s")})
		r.Document(&protocol.Document{Kind: "full", Facts: &protocol.Facts{Hostname: c.name}})
		if got := inverse(r.Mapping())[c.name] != ""; got != c.learned {
			t.Errorf("a host name of %d bytes: learned %v, want %v", len(c.name), got, c.learned)
		}
	}
}

// TestPseudonymForm: a pseudonym is the kind and six hex digits (an
// e-mail address keeps the form of one), and stays the same for a value
// however it is spelled.
func TestPseudonymForm(t *testing.T) {
	r := New(Options{Pseudonymize: true, Salt: []byte("s")})
	forms := map[string]*regexp.Regexp{
		"10.1.2.3":          regexp.MustCompile(`^ip-[0-9a-f]{6}$`),
		"2001:db8::7":       regexp.MustCompile(`^ip6-[0-9a-f]{6}$`),
		"02:42:ac:11:00:02": regexp.MustCompile(`^mac-[0-9a-f]{6}$`),
		"Ann@Example.org":   regexp.MustCompile(`^email-[0-9a-f]{6}@example\.invalid$`),
	}
	for in, re := range forms {
		if out := r.Text(in); !re.MatchString(out) {
			t.Errorf("Text(%q) = %q, want %s", in, out, re)
		}
	}
	if a, b := r.Text("Ann@Example.org"), r.Text("ann@example.org"); a != b {
		t.Errorf("one address, two pseudonyms: %s %s", a, b)
	}
	if out := r.Text("mail ann@example.invalid"); out != "mail ann@example.invalid" {
		t.Errorf("an address of the reserved domain was replaced: %s", out)
	}
}

// TestPseudonymCollisions: when two values share the first six hex digits
// of their HMAC, the later one gets a longer pseudonym; no two values ever
// share one, and each maps back to its own value.
func TestPseudonymCollisions(t *testing.T) {
	r := New(Options{Pseudonymize: true, Salt: []byte("collide")})
	long := regexp.MustCompile(`^ip-[0-9a-f]{8,}$`)
	seen := map[string]string{}
	collided := false
	for i := 0; i < 40000 && !collided; i++ {
		orig := fmt.Sprintf("10.%d.%d.%d", (i>>16)&255, (i>>8)&255, i&255)
		p := r.Text(orig)
		if prev, ok := seen[p]; ok {
			t.Fatalf("%s and %s share the pseudonym %s", prev, orig, p)
		}
		seen[p] = orig
		if long.MatchString(p) {
			collided = true
			if len(p) != len("ip-")+8 {
				t.Errorf("after one collision the pseudonym is %s, want 8 hex digits", p)
			}
			if short := p[:len("ip-")+6]; seen[short] == "" {
				t.Errorf("%s is longer, but %s is not taken", p, short)
			}
		}
	}
	if !collided {
		t.Fatal("no collision in 40000 addresses: choose another salt")
	}
	m := r.Mapping()
	for p, orig := range seen {
		if m[p] != orig {
			t.Errorf("mapping[%s] = %q, want %q", p, m[p], orig)
		}
	}
}

// TestIPv4Neighbours: an address glued to a letter before it, or followed
// by a dot and a digit, is part of something else (a version, an OID);
// any other neighbour leaves it an address. The text's first and last
// bytes count as neighbours too.
func TestIPv4Neighbours(t *testing.T) {
	for _, c := range []struct {
		in   string
		kept bool
	}{
		{"10.1.2.3", false}, {"a10.1.2.3", true}, {"z10.1.2.3", true}, {"A10.1.2.3", true}, {"Z10.1.2.3", true},
		{"`10.1.2.3", false}, {"{10.1.2.3", false}, {"@10.1.2.3", false}, {"[10.1.2.3", false},
		{"10.1.2.3.0", true}, {"10.1.2.3.9", true}, {"10.1.2.3./", false}, {"10.1.2.3.:", false}, {"10.1.2.3.a", false},
		{"x 10.1.2.3", false}, {"x.10.1.2.3", true},
	} {
		out := New(Options{Pseudonymize: true, Salt: []byte("s")}).Text(c.in)
		if kept := strings.Contains(out, "10.1.2.3"); kept != c.kept {
			t.Errorf("Text(%q) = %q; kept %v, want %v", c.in, out, kept, c.kept)
		}
	}
	for in, want := range map[string]string{"bob": "P", "xbob": "xbob", "bobx": "bobx", "bob.x": "bob.x", "bob.": "P."} {
		out := withNames(t).Text(in)
		if got := pseudonymRE.ReplaceAllString(out, "P"); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, out, want)
		}
	}
}

// TestWherePaths: the report locates a find by the JSON path of its value,
// with keys as written after redaction, / and ~ escaped as in a JSON
// pointer, array elements by index, and long keys cut to 40 runes.
func TestWherePaths(t *testing.T) {
	k40 := strings.Repeat("k", 40)
	k41 := strings.Repeat("é", 41)
	in := `{"a/b~c":{"list":[1,{"password":"hunter22x"}]},"` + k40 + `":{"token":"t0ken123"},"` + k41 + `":{"secret":"s3cret99"},"top":"password=abc12345"}`
	r := New(Options{})
	r.JSON([]byte(in))
	var where []string
	for _, rr := range r.Report().Rules {
		where = append(where, rr.Where...)
	}
	got := strings.Join(where, " ")
	for _, w := range []string{"json:/top", "json:/a~1b~0c/list/1/password", "json:/" + k40 + "/token", "json:/" + strings.Repeat("é", 40) + "…/secret"} {
		if !strings.Contains(" "+got+" ", " "+w+" ") {
			t.Errorf("report locations %q lack %q", got, w)
		}
	}
	r = New(Options{})
	r.JSON([]byte(`"password=abc12345"`))
	if w := r.Report().Rules[0].Where; len(w) != 1 || w[0] != "json:/" {
		t.Errorf("a top-level string is at %q, want json:/", w)
	}
}

// TestLongestFind: where two identifiers start at one place the longer
// one wins: an e-mail address that starts with a known user's name is an
// e-mail address.
func TestLongestFind(t *testing.T) {
	r := withNames(t)
	out := r.Text("mail bob@example.org or bob")
	m := r.Mapping()
	parts := strings.Fields(out)
	if len(parts) != 4 || m[parts[1]] != "bob@example.org" || m[parts[3]] != "bob" {
		t.Errorf("Text = %q (mapping %v)", out, m)
	}
}
