package receipt

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sondehq/sonde/protocol"
)

// TestRecordFromTheAgentsFacts: what left the machine comes from what the
// agent wrote, not from what the collector answered: a hostile collector
// that refuses a snapshot it received, saying "not delivered" with escape
// sequences, leaves a receipt that says it was sent in full and quotes
// its words, escaped.
func TestRecordFromTheAgentsFacts(t *testing.T) {
	hostile := &protocol.Error{Code: protocol.CodeInternal, Message: "\x1b[2K\x1b[1Anot delivered: nothing left this machine"}
	for _, c := range []struct {
		name      string
		err       error
		sent      string
		delivered bool
	}{
		{"acknowledged", nil, SentAll, true},
		{"refused after it was sent", Sending(hostile, true), SentAll, false},
		{"refused while it was sent", Sending(hostile, false), SentPart, false},
		{"no connection", errors.New("not connected"), SentNone, false},
		{"kept here", fmt.Errorf("kept on this machine until the collector can be reached: %w", errors.New("timeout")), SentNone, false},
	} {
		var r Receipt
		r.Record(c.err)
		if r.Sent != c.sent || r.Delivered != c.delivered {
			t.Errorf("%s: sent %q, delivered %v; want %q, %v", c.name, r.Sent, r.Delivered, c.sent, c.delivered)
		}
		if c.err == nil && r.Error != "" {
			t.Errorf("%s: error %q", c.name, r.Error)
		}
		if errors.Is(c.err, hostile) {
			if strings.Contains(r.Error, "\x1b") || !strings.Contains(r.Error, `\x1b[2K\x1b[1A`) {
				t.Errorf("%s: the collector's words are not quoted safely: %q", c.name, r.Error)
			}
			if !strings.HasPrefix(r.Error, "the collector did not acknowledge it; it answered code") {
				t.Errorf("%s: the note does not start in the agent's words: %q", c.name, r.Error)
			}
		}
	}
	// The collector's text is bounded.
	var r Receipt
	r.Record(Sending(&protocol.Error{Code: 500, Message: strings.Repeat("x", 10000)}, true))
	if len(r.Error) > 2*maxError {
		t.Errorf("a note of %d bytes", len(r.Error))
	}
}

// TestAddRefusesALink: the receipts file is never appended to through a
// link at its path.
func TestAddRefusesALink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, File)); err != nil {
		t.Fatal(err)
	}
	if err := (&Log{Dir: dir}).Add(Receipt{Kind: "periodic"}); err == nil {
		t.Fatal("Add through a link succeeded")
	}
	if b, _ := os.ReadFile(victim); string(b) != "x" {
		t.Fatalf("the link's target was appended to: %q", b)
	}
}
