package redact

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sondehq/sonde/protocol"
)

// TestLearnFromFacts: the host name in Facts is replaced in every probe,
// also in free text of a probe redacted before Facts are, and a document
// without Facts is pseudonymized too.
func TestLearnFromFacts(t *testing.T) {
	r := New(Options{Pseudonymize: true, Salt: []byte("s")})
	d := &protocol.Document{Kind: "full", Facts: &protocol.Facts{Hostname: "kiosk-east-7"},
		Probes: []protocol.ProbeJSON{{Name: "log", Data: json.RawMessage(`{"lines":["kiosk-east-7 kernel: eth0 up"]}`)}}}
	out := r.Document(d)
	host := out.Facts.Hostname
	if !strings.HasPrefix(host, "host-") || string(out.Probes[0].Data) != `{"lines":["`+host+` kernel: eth0 up"]}` {
		t.Errorf("facts %q, log %s", host, out.Probes[0].Data)
	}

	d = &protocol.Document{Kind: "health", Probes: []protocol.ProbeJSON{{Name: "system", Data: json.RawMessage(`{"hostname":"kiosk-west-2","note":"kiosk-west-2 up"}`)}}}
	out = New(Options{Pseudonymize: true}).Document(d)
	if out.Facts != nil || strings.Contains(string(out.Probes[0].Data), "kiosk-west-2") {
		t.Errorf("a document without facts: %+v, %s", out.Facts, out.Probes[0].Data)
	}
	if New(Options{}).Document(nil) != nil {
		t.Error("Document(nil) is not nil")
	}
}

// TestLearnUsers: the people logged in (users[].user, users[].username)
// and the hosts they come from (users[].host) are learned and replaced
// everywhere; the owners of processes are not people to learn, and are
// replaced only where a learned name is.
func TestLearnUsers(t *testing.T) {
	r := New(Options{Pseudonymize: true, Salt: []byte("s")})
	d := &protocol.Document{Kind: "full", Probes: []protocol.ProbeJSON{
		{Name: "processes", Data: json.RawMessage(`{"top_cpu":[{"user":"svc-backup","cmdline":"run by svc-backup for carol and dmitri from jump-host-3"}]}`)},
		{Name: "system", Data: json.RawMessage(`{"users":[{"user":"carol","host":"jump-host-3"},{"username":"dmitri"}]}`)},
	}}
	out := r.Document(d)
	inv := inverse(r.Mapping())
	for _, name := range []string{"carol", "dmitri", "jump-host-3"} {
		if inv[name] == "" {
			t.Errorf("%s was not learned: %v", name, r.Mapping())
		}
	}
	want := `{"top_cpu":[{"user":"svc-backup","cmdline":"run by svc-backup for ` + inv["carol"] + ` and ` + inv["dmitri"] + ` from ` + inv["jump-host-3"] + `"}]}`
	if got := string(out.Probes[0].Data); got != want {
		t.Errorf("processes\n got %s\nwant %s", got, want)
	}
	if inv["svc-backup"] != "" {
		t.Errorf("a process owner was learned as a person")
	}
}

// nested returns a JSON document with obj inside depth arrays, or objects.
func nested(depth int, obj string, objects bool) string {
	if objects {
		return strings.Repeat(`{"a":`, depth) + obj + strings.Repeat("}", depth)
	}
	return strings.Repeat("[", depth) + obj + strings.Repeat("]", depth)
}

// TestLearnDepth: names are learned from as deep as the walker reads and
// one level more (the walker refuses that document, failing closed), but
// not from deeper.
func TestLearnDepth(t *testing.T) {
	for _, c := range []struct {
		depth   int
		objects bool
		learned bool
	}{
		{maxDepth - 1, false, true}, {maxDepth, false, true}, {maxDepth + 1, false, false},
		{maxDepth - 1, true, true}, {maxDepth, true, true}, {maxDepth + 1, true, false},
	} {
		r := New(Options{Pseudonymize: true, Salt: []byte("s")})
		d := &protocol.Document{Kind: "full", Probes: []protocol.ProbeJSON{
			{Name: "deep", Data: json.RawMessage(nested(c.depth, `{"hostname":"deep-host-9"}`, c.objects))},
			{Name: "log", Error: "deep-host-9 is down"},
		}}
		out := r.Document(d)
		if got := !strings.Contains(out.Probes[1].Error, "deep-host-9"); got != c.learned {
			t.Errorf("a host name at depth %d (objects %v): learned %v, want %v (%s)", c.depth, c.objects, got, c.learned, out.Probes[1].Error)
		}
		if valid := c.depth < maxDepth; valid != (string(out.Probes[0].Data) != Unparseable) {
			t.Errorf("depth %d: data %.60s…", c.depth, out.Probes[0].Data)
		}
	}
}

// TestPseudonymizeEvery: every identifier in a text is replaced, not only
// the first of its kind, and the same value twice gets one pseudonym.
func TestPseudonymizeEvery(t *testing.T) {
	r := New(Options{Pseudonymize: true, Salt: []byte("s")})
	r.Document(&protocol.Document{Kind: "full", Facts: &protocol.Facts{Hostname: "kiosk-east-7"},
		Probes: []protocol.ProbeJSON{{Name: "system", Data: json.RawMessage(`{"users":[{"user":"carol"},{"user":"dmitri"}]}`)}}})
	originals := []string{"ann@example.org", "bob@example.net", "02:42:ac:11:00:02", "02:42:ac:11:00:03",
		"10.1.2.3", "192.168.7.8", "2001:db8::7", "2001:db8::8", "carol", "dmitri", "kiosk-east-7"}
	in := strings.Join(originals, " and ") + " and again 10.1.2.3"
	out := r.Text(in)
	for _, o := range originals {
		if strings.Contains(out, o) {
			t.Errorf("%s survives in %q", o, out)
		}
	}
	if p := inverse(r.Mapping())["10.1.2.3"]; p == "" || strings.Count(out, p) != 2 {
		t.Errorf("10.1.2.3 → %q, %d times in %q", p, strings.Count(out, p), out)
	}
	if n := len(pseudonymRE.FindAllString(out, -1)); n != len(originals)+1 {
		t.Errorf("%d pseudonyms in %q, want %d", n, out, len(originals)+1)
	}
}

// TestShortUserName: a known user name too short to replace in free text
// is still replaced in the fields that hold a user name.
func TestShortUserName(t *testing.T) {
	r := New(Options{Pseudonymize: true, Salt: []byte("s")})
	out := r.Document(&protocol.Document{Kind: "full", Probes: []protocol.ProbeJSON{
		{Name: "processes", Data: json.RawMessage(`{"top_cpu":[{"user":"jo","name":"jo"},{"user":"ed"}]}`)},
		{Name: "system", Data: json.RawMessage(`{"users":[{"user":"jo"}]}`)},
	}})
	jo := inverse(r.Mapping())["jo"]
	want := `{"top_cpu":[{"user":"` + jo + `","name":"jo"},{"user":"ed"}]}`
	if got := string(out.Probes[0].Data); !strings.HasPrefix(jo, "user-") || got != want {
		t.Errorf("processes\n got %s\nwant %s", got, want)
	}
	if n := r.Report().Count("username"); n != 2 {
		t.Errorf("username counted %d times, want 2", n)
	}
}
