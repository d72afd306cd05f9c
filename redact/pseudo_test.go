package redact

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sondehq/sonde/protocol"
)

// pseudonymRE matches the pseudonyms a Redactor writes.
var pseudonymRE = regexp.MustCompile(`\b(?:ip6?|mac|host|user)-[0-9a-f]{6,64}\b|\bemail-[0-9a-f]{6,64}@example\.invalid\b`)

func redactCorpusDocument(t *testing.T, opts Options) (string, *Redactor) {
	t.Helper()
	in, err := os.ReadFile(filepath.Join("testdata", "corpus", "document.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d protocol.Document
	if err := json.Unmarshal(in, &d); err != nil {
		t.Fatal(err)
	}
	r := New(opts)
	out, err := json.Marshal(r.Document(&d))
	if err != nil {
		t.Fatal(err)
	}
	return string(out), r
}

// inverse returns original → pseudonym.
func inverse(m map[string]string) map[string]string {
	inv := map[string]string{}
	for p, o := range m {
		inv[o] = p
	}
	return inv
}

func TestPseudonymizeDocument(t *testing.T) {
	out, r := redactCorpusDocument(t, Options{Pseudonymize: true, Salt: []byte("bundle-1")})
	m := r.Mapping()
	inv := inverse(m)

	// The same IP in the network probe and in a process command line.
	ip := inv["10.20.30.41"]
	if ip == "" || strings.Count(out, ip) != 2 {
		t.Errorf("10.20.30.41 → %q, occurring %d times, want 2:\n%s", ip, strings.Count(out, ip), out)
	}
	// Host and user names learned from facts and the system probe are
	// replaced everywhere, also in a probe that comes before the system probe.
	for _, orig := range []string{"ws-alice01.corp.example.com", "alice", "10.20.30.99", "10.20.30.1", "02:42:ac:11:00:02", "fe80::42:acff:fe11:2"} {
		p := inv[orig]
		if p == "" || !strings.Contains(out, p) {
			t.Errorf("%q has no pseudonym in the output (mapping %v)", orig, m)
		}
		if strings.Contains(out, orig) {
			t.Errorf("%q survives pseudonymization", orig)
		}
	}
	if !strings.Contains(out, `"HOME=/home/`+inv["alice"]+`"`) {
		t.Errorf("user name not replaced in a path: %s", out)
	}
	// Identifying nothing, these stay.
	for _, keep := range []string{`"127.0.0.1/8"`, `"::1/128"`, `"0.0.0.0"`, `"user":"root"`, "cache.internal"} {
		if !strings.Contains(out, keep) {
			t.Errorf("%s was pseudonymized: %s", keep, out)
		}
	}
	// Every pseudonym in the output maps back to an original.
	for _, p := range pseudonymRE.FindAllString(out, -1) {
		if m[p] == "" {
			t.Errorf("pseudonym %q is not in the mapping", p)
		}
	}
	rep, _ := json.Marshal(r.Report())
	for _, orig := range m {
		if strings.Contains(string(rep), orig) {
			t.Errorf("report holds original %q: %s", orig, rep)
		}
	}

	// Text after Document uses the names it learned.
	line := r.Text("alice logged in to ws-alice01 from 10.20.30.41")
	inv = inverse(r.Mapping())
	want := inv["alice"] + " logged in to " + inv["ws-alice01"] + " from " + ip
	if line != want {
		t.Errorf("Text = %q, want %q", line, want)
	}
}

func TestPseudonymsPerSalt(t *testing.T) {
	out1, r1 := redactCorpusDocument(t, Options{Pseudonymize: true, Salt: []byte("bundle-1")})
	out1b, _ := redactCorpusDocument(t, Options{Pseudonymize: true, Salt: []byte("bundle-1")})
	out2, r2 := redactCorpusDocument(t, Options{Pseudonymize: true, Salt: []byte("bundle-2")})
	if out1 != out1b {
		t.Error("same salt gave different output")
	}
	inv1, inv2 := inverse(r1.Mapping()), inverse(r2.Mapping())
	if len(inv1) == 0 || len(inv1) != len(inv2) {
		t.Fatalf("mappings differ in size: %d, %d", len(inv1), len(inv2))
	}
	for orig, p := range inv1 {
		if inv2[orig] == p {
			t.Errorf("%q has pseudonym %q under both salts", orig, p)
		}
	}
	if out1 == out2 {
		t.Error("different salts gave the same output")
	}
	_, r3 := redactCorpusDocument(t, Options{Pseudonymize: true})
	_, r4 := redactCorpusDocument(t, Options{Pseudonymize: true})
	if inverse(r3.Mapping())["alice"] == inverse(r4.Mapping())["alice"] {
		t.Error("without a salt, two bundles share pseudonyms")
	}
}

func TestPseudonymizeOff(t *testing.T) {
	out, r := redactCorpusDocument(t, Options{})
	if len(r.Mapping()) != 0 || pseudonymRE.MatchString(out) {
		t.Errorf("pseudonyms without Pseudonymize: %v", r.Mapping())
	}
	for _, keep := range []string{"10.20.30.41", "ws-alice01.corp.example.com", "/home/alice"} {
		if !strings.Contains(out, keep) {
			t.Errorf("%q lost without Pseudonymize", keep)
		}
	}
}

func TestPseudonymizeText(t *testing.T) {
	r := New(Options{Pseudonymize: true, Salt: []byte("s")})
	cases := []struct{ in, rule, orig string }{
		{"peer 192.168.1.20:443 up", "ipv4", "192.168.1.20"},
		{"ping [2001:db8::7]:22", "ipv6", "2001:db8::7"},
		{"addr:fe80::1%eth0 scope link", "ipv6", "fe80::1"},
		{"mapped ::ffff:192.168.1.20 too", "ipv4", "192.168.1.20"},
		{"ether 02-42-AC-11-00-03 brd", "mac", "02-42-AC-11-00-03"},
		{"ether 02:42:ac:11:00:03 brd", "mac", "02:42:ac:11:00:03"},
		{"mail from Jane.Doe+ops@mail.example.co.uk bounced", "email", "Jane.Doe+ops@mail.example.co.uk"},
	}
	for _, c := range cases {
		out := r.Text(c.in)
		if strings.Contains(out, c.orig) || !pseudonymRE.MatchString(out) {
			t.Errorf("Text(%q) = %q", c.in, out)
		}
	}
	rep := r.Report()
	for _, rule := range []string{"ipv4", "ipv6", "mac", "email"} {
		if rep.Count(rule) == 0 {
			t.Errorf("rule %s not reported: %+v", rule, rep)
		}
	}
	// Same address, different spellings: one pseudonym.
	a, b := r.Text("192.168.1.20"), r.Text("::ffff:192.168.1.20")
	c, d := r.Text("02-42-AC-11-00-03"), r.Text("02:42:ac:11:00:03")
	if a != b || c != d {
		t.Errorf("spellings of one address got different pseudonyms: %s %s, %s %s", a, b, c, d)
	}
	m := r.Mapping()
	if m[a] != "192.168.1.20" {
		t.Errorf("mapping[%s] = %q", a, m[a])
	}
}

func TestShortHostName(t *testing.T) {
	r := New(Options{Pseudonymize: true, Salt: []byte("s")})
	d := &protocol.Document{Kind: "full", Facts: &protocol.Facts{Hostname: "vm", Virtualization: "vm"},
		Probes: []protocol.ProbeJSON{{Name: "system", Data: json.RawMessage(`{"hostname":"vm","virtualization":"vm"}`)}}}
	out := r.Document(d)
	if !strings.HasPrefix(out.Facts.Hostname, "host-") || out.Facts.Virtualization != "vm" {
		t.Errorf("facts = %+v", out.Facts)
	}
	if want := `{"hostname":"` + out.Facts.Hostname + `","virtualization":"vm"}`; string(out.Probes[0].Data) != want {
		t.Errorf("system data = %s, want %s", out.Probes[0].Data, want)
	}
}
