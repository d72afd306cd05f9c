package bundle_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/collector/bundle"
	"github.com/sondehq/sonde/collector/ticket"
	"github.com/sondehq/sonde/findings"
	"github.com/sondehq/sonde/protocol"
	"github.com/sondehq/sonde/redact"
)

// The redaction package's corpus: files full of planted secrets and the
// list of those secrets (canaries), each with the rule that must find it.
var corpusDir = filepath.Join("..", "..", "redact", "testdata", "corpus")

func corpusFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type canary struct{ rule, secret string }

func corpusCanaries(t *testing.T) []canary {
	t.Helper()
	var cs []canary
	sc := bufio.NewScanner(strings.NewReader(corpusFile(t, "canaries.txt")))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rule, secret, ok := strings.Cut(line, " ")
		if !ok || len(secret) < 8 {
			t.Fatalf("bad canary line %q", line)
		}
		cs = append(cs, canary{rule, secret})
	}
	return cs
}

// leaks returns the 8-byte pieces of secret found in out.
func leaks(out []byte, secret string) []string {
	var found []string
	for i := 0; i+8 <= len(secret); i++ {
		if w := secret[i : i+8]; bytes.Contains(out, []byte(w)) {
			found = append(found, w)
		}
	}
	return found
}

// textProbe is a probe whose data carries a corpus text file.
func textProbe(t *testing.T, name, file string) protocol.ProbeJSON {
	t.Helper()
	data, err := json.Marshal(map[string]string{"file": file, "text": corpusFile(t, file)})
	if err != nil {
		t.Fatal(err)
	}
	return protocol.ProbeJSON{Name: name, DurationMS: 1, Data: data}
}

// secretInput is a bundle input with the corpus's secrets in every part
// that goes into a bundle: the snapshot's probe data and errors (one of
// them a failed service, so that a finding's evidence names it), the health
// history, the previous and the healthy snapshot, and for a handover the
// ticket's title and timeline notes.
func secretInput(t *testing.T, handover bool) *bundle.Input {
	t.Helper()
	const unitToken = "ghp_CANARY01u8jzPde0IgxLd6GncfBAepfJBd0K" // a canary of the corpus

	snap, previous, healthy := fixture(t), fixture(t), fixture(t)
	// The fixture's agent ID, a1b2c3d4, is by chance a piece of a canary.
	for _, d := range []*protocol.Document{snap, previous, healthy} {
		d.AgentID = "agent-0042"
	}
	for i, p := range snap.Probes {
		if p.Name == "services" {
			// A templated unit whose instance is a token: the failed
			// service's finding carries the unit name as evidence.
			snap.Probes[i].Data = bytes.ReplaceAll(p.Data, []byte(`"cups.service"`), []byte(`"sync@`+unitToken+`.service"`))
		}
	}
	var doc protocol.Document
	if err := json.Unmarshal([]byte(corpusFile(t, "document.json")), &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range doc.Probes {
		p.Name = "corpus-" + p.Name
		snap.Probes = append(snap.Probes, p)
	}
	snap.Probes = append(snap.Probes, textProbe(t, "corpus-argv", "argv.txt"),
		protocol.ProbeJSON{Name: "corpus-config", DurationMS: 1, Data: json.RawMessage(corpusFile(t, "config.json"))},
		protocol.ProbeJSON{Name: "corpus-log", DurationMS: 1, Error: corpusFile(t, "app.log")})

	health := func(at time.Duration, probes ...protocol.ProbeJSON) *protocol.Document {
		return &protocol.Document{AgentID: snap.AgentID, Kind: "health", CapturedAt: snap.CapturedAt.Add(-at), Facts: snap.Facts, Probes: probes}
	}
	history := []*protocol.Document{
		health(time.Hour, textProbe(t, "corpus-env", "env.txt")),
		health(2*time.Hour, protocol.ProbeJSON{Name: "corpus-log", Error: corpusFile(t, "app.log")}),
	}
	previous.Probes = append(previous.Probes, textProbe(t, "corpus-urls", "urls.txt"))
	healthy.Probes = append(healthy.Probes, textProbe(t, "corpus-yaml", "config.yaml"), textProbe(t, "corpus-ini", "app.ini"))

	in := &bundle.Input{Ticket: "INC-4711", AgentID: snap.AgentID, SnapshotID: 9, Snapshot: snap, Fresh: true,
		History: history, Previous: previous, PreviousID: 8, Healthy: healthy, HealthyID: 5,
		Version: "test", Created: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	if handover {
		at := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
		tk := ticket.Ticket{Ref: "INC-4711", Title: "backup broken: mysql -u backup -pCANARY11mysqlpw -h db.internal backupdb",
			Agents: []string{snap.AgentID}, Tier: ticket.L3, Status: ticket.Escalated, Assignee: "l2-bob", CreatedBy: "l1-amy", CreatedAt: at}
		events := []ticket.Event{{ID: 1, At: at, Actor: "l1-amy", Kind: "opened", Text: tk.Title}}
		// Engineers paste what they saw into notes: every line of the
		// URL and env corpora, one note each, and the whole YAML file.
		var lines []string
		for _, file := range []string{"urls.txt", "env.txt"} {
			lines = append(lines, strings.Split(strings.TrimSpace(corpusFile(t, file)), "\n")...)
		}
		lines = append(lines, corpusFile(t, "config.yaml"))
		for i, l := range lines {
			events = append(events, ticket.Event{ID: int64(i + 2), At: at.Add(time.Duration(i) * time.Minute), Actor: "l2-bob", Kind: "note", Text: l})
		}
		events = append(events, ticket.Event{ID: 99, At: at.Add(time.Hour), Actor: "l2-bob", Kind: "escalate", From: "l2", To: "l3",
			Text: "tried: curl -fsS -u deploy:CANARY60curlpw https://ci.example.com/api/json"})
		in.Handover = &bundle.Handover{Ticket: tk, Events: events}
	}
	return in
}

// redactedText is everything of in that goes through redaction, in one
// string, to count the secrets that are to be redacted.
func redactedText(t *testing.T, in *bundle.Input) string {
	t.Helper()
	var b strings.Builder
	for _, d := range append([]*protocol.Document{in.Snapshot, in.Previous, in.Healthy}, in.History...) {
		j, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j) // no canary holds a character that JSON escapes
	}
	if h := in.Handover; h != nil {
		b.WriteString(h.Ticket.Title)
		for _, ev := range h.Events {
			b.WriteString("\n" + ev.Text)
		}
	}
	return b.String()
}

// TestBundlesCarryNoSecrets builds every kind of bundle from inputs full of
// secrets and looks at every file in the zip: no piece of any secret may be
// in any of them, and the manifest's redaction report counts what was
// redacted.
func TestBundlesCarryNoSecrets(t *testing.T) {
	canaries := corpusCanaries(t)
	kb, err := findings.LoadKB("")
	if err != nil {
		t.Fatal(err)
	}
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		handover bool
		pseudo   bool
	}{
		{"plain", false, false},
		{"pseudonymized", false, true},
		{"handover", true, false},
		{"pseudonymized handover", true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := secretInput(t, c.handover)
			in.KB = kb
			in.Redact = redact.Options{Pseudonymize: c.pseudo, Salt: []byte("bundle-salt")}
			raw := redactedText(t, in)
			// Whatever is planted must be there to find, in every part.
			planted := 0
			for _, cn := range canaries {
				planted += strings.Count(raw, cn.secret)
			}
			if planted < len(canaries) {
				t.Fatalf("only %d secrets planted for %d canaries", planted, len(canaries))
			}

			var buf bytes.Buffer
			m, mapping, err := bundle.Build(&buf, in, key)
			if err != nil {
				t.Fatal(err)
			}
			b := buf.Bytes()
			vm, err := bundle.Verify(b, pub)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			wantKind := bundle.KindBundle
			if c.handover {
				wantKind = bundle.KindHandover
			}
			if vm.Kind != wantKind {
				t.Errorf("kind %q, want %q", vm.Kind, wantKind)
			}

			// Every file of the zip, whether the manifest lists it or not.
			zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, f := range zr.File {
				seen[f.Name] = true
				rc, err := f.Open()
				if err != nil {
					t.Fatal(err)
				}
				data, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					t.Fatal(err)
				}
				for _, cn := range canaries {
					if l := leaks(data, cn.secret); len(l) > 0 {
						t.Errorf("%s carries pieces %q of the %s secret %q", f.Name, l, cn.rule, cn.secret)
					}
				}
				// Pseudonymized, the original names and addresses are gone
				// too (the mapping stays on the collector).
				for p, orig := range mapping {
					if len(orig) >= 6 && bytes.Contains(data, []byte(orig)) {
						t.Errorf("%s carries %q, pseudonymized as %s", f.Name, orig, p)
					}
				}
			}
			for _, name := range []string{"manifest.json", "manifest.sig", "snapshot.json", "history.json", "diff-previous.json",
				"diff-healthy.json", "findings.json", "report.html", "report.txt"} {
				if !seen[name] {
					t.Errorf("the bundle lacks %s", name)
				}
			}
			if got := seen["ticket.json"] && seen["timeline.txt"]; got != c.handover {
				t.Errorf("ticket.json and timeline.txt in the bundle: %v, want %v", got, c.handover)
			}
			if c.pseudo != (len(mapping) > 0) {
				t.Errorf("pseudonymize %v, but %d pseudonyms", c.pseudo, len(mapping))
			}

			// The report counts every secret planted, by the rule that
			// finds it, and the manifest in the zip is the one returned.
			want := map[string]int{}
			for _, cn := range canaries {
				want[cn.rule] += strings.Count(raw, cn.secret)
			}
			for rule, n := range want {
				if got := vm.Redaction.Count(rule); got < n {
					t.Errorf("the redaction report counts rule %s %d times, want >= %d", rule, got, n)
				}
			}
			if fmt.Sprint(vm.Redaction) != fmt.Sprint(m.Redaction) {
				t.Errorf("Verify's manifest and Build's differ in the redaction report")
			}
			// The finding about the failed service names the unit, redacted.
			if !findingEvidence(t, b, "service.failed", "sync@[REDACTED:github-token].service") {
				t.Errorf("findings.json lacks the failed service's evidence, redacted")
			}
		})
	}
}

// findingEvidence reports whether findings.json of bundle b has a finding
// id with an evidence value want.
func findingEvidence(t *testing.T, b []byte, id, want string) bool {
	t.Helper()
	data, err := bundle.Open(b, "findings.json")
	if err != nil {
		t.Fatal(err)
	}
	var fs []bundle.Ranked
	if err := json.Unmarshal(data, &fs); err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.ID != id {
			continue
		}
		for _, v := range f.Evidence {
			if v == want {
				return true
			}
		}
	}
	return false
}
