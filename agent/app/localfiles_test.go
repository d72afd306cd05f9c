package app

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sondehq/sonde/agent/receipt"
	"github.com/sondehq/sonde/agent/state"
)

// TestSnapshotOutputRefusesALink: `snapshot -o FILE` run as root must not
// write through a link another user planted at FILE (in /tmp, say): the
// link's target keeps its content and the command says why it stopped.
func TestSnapshotOutputRefusesALink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("root's file"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "x")
	if err := os.Symlink(victim, out); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	args := []string{"snapshot", "--state", t.TempDir(), "--probes", "time", "-o", out}
	if code := Main(t.Context(), args, &stdout, &stderr); code == 0 {
		t.Fatal("snapshot -o onto a link succeeded")
	}
	if b, _ := os.ReadFile(victim); string(b) != "root's file" {
		t.Fatalf("the link's target was overwritten: %.60q", b)
	}
	if !strings.Contains(stderr.String(), "symbolic link") {
		t.Errorf("the error does not say why: %s", stderr.String())
	}

	// A plain path is written, mode 0600, and holds the snapshot.
	plain := filepath.Join(dir, "y")
	args[len(args)-1] = plain
	if code := Main(t.Context(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	b, err := os.ReadFile(plain)
	if err != nil || !json.Valid(b) {
		t.Fatalf("%v: %.60q", err, b)
	}
	if fi, _ := os.Stat(plain); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
}

// TestReceiptsPrintSafely: `sonde-agent receipts` shows a collector's
// error text with escape sequences as visible text (they would erase the
// lines above and hide receipts), and says what left the machine from the
// receipt's own facts: a snapshot written in full is "yes", whatever the
// collector's text claims.
func TestReceiptsPrintSafely(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	pub := state.PublicDir(dir)
	if err := os.MkdirAll(pub, 0o755); err != nil {
		t.Fatal(err)
	}
	l := &receipt.Log{Dir: pub}
	for _, r := range []receipt.Receipt{
		{Kind: "requested", Ticket: "INC-1", Probes: []string{"cpu"}, Collector: "c.example:443", Sent: receipt.SentAll,
			Error: "\x1b[2K\x1b[1Anot delivered\u009b2K"},
		{Kind: "periodic", Probes: []string{"cpu"}, Collector: "c.example:443", Sent: receipt.SentNone, Error: "kept here"},
		{Kind: "periodic", Probes: []string{"cpu"}, Collector: "c.example:443", Error: "from an older agent"},
	} {
		r.At = time.Now()
		if err := l.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := Main(t.Context(), []string{"receipts", "--state", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	if strings.ContainsAny(out, "\x1b\u009b") {
		t.Fatalf("a terminal escape reached the output: %q", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "LEFT THIS MACHINE") {
		t.Fatalf("output:\n%s", out)
	}
	for i, want := range []string{
		`  yes  *no: \x1b[2K\x1b[1Anot delivered\x9b2K`,
		`  no  *no: kept here`,
		`  not recorded  *no: from an older agent`,
	} {
		if !regexp.MustCompile(regexp.QuoteMeta(want[:strings.Index(want, "*")]) + " +" + regexp.QuoteMeta(want[strings.Index(want, "*")+1:]) + "$").MatchString(lines[i+1]) {
			t.Errorf("line %d: %q, want it to end in %q", i+1, lines[i+1], want)
		}
	}
}

// TestReceiptsShowTheSummary: `sonde-agent receipts` prints the days
// rotated out of the log before the receipts left, a line a day, with the
// tickets they were for.
func TestReceiptsShowTheSummary(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	pub := state.PublicDir(dir)
	if err := os.MkdirAll(pub, 0o755); err != nil {
		t.Fatal(err)
	}
	l := &receipt.Log{Dir: pub}
	day1 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	if err := l.Add(receipt.Receipt{At: day1, Kind: "requested", Ticket: "INC-1", Probes: []string{"cpu"}, Sent: receipt.SentAll, Delivered: true}); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 100<<10)
	for i := range 30 {
		if err := l.Add(receipt.Receipt{At: day1.Add(24*time.Hour + time.Duration(i)*time.Second), Kind: "periodic", Sent: receipt.SentNone, Error: big}); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := Main(t.Context(), []string{"receipts", "--state", dir, "--limit", "3"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	want := "Earlier, by day (UTC; the receipts themselves rotated out of the log):\n" +
		"  2026-12-01  1 snapshot (1 requested), 1 left this machine, 1 delivered; for tickets INC-1 (1)\n" +
		"  2026-12-02  "
	if !strings.HasPrefix(out, want) || !strings.Contains(out, "periodic), 0 left this machine, 0 delivered\n\nWHEN") {
		t.Errorf("output:\n%s\nwant it to start with:\n%s", out, want)
	}
}
