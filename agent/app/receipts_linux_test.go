package app

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sondehq/sonde/agent/receipt"
	"github.com/sondehq/sonde/agent/state"
)

// TestReceiptOfARefusedSnapshot: a collector that receives a requested
// snapshot and answers an error text made to erase lines and claim that
// nothing was delivered gets a receipt that says the snapshot left the
// machine in full, unacknowledged, and `sonde-agent receipts` prints its
// text escaped.
func TestReceiptOfARefusedSnapshot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sonde-agent")
	col := startCollector(t, "INC-1")
	col.refusal = "\x1b[2K\x1b[1Anot delivered: nothing left this machine"
	col.enroll(t, dir)
	stop := startAgent(t, dir)
	var got receipt.Receipt
	waitFor(t, "the receipt of the refused snapshot", func() bool {
		list, _ := receipt.Read(0, state.PublicDir(dir))
		i := slices.IndexFunc(list, func(r receipt.Receipt) bool { return r.Ticket == "INC-1" })
		if i >= 0 {
			got = list[i]
		}
		return i >= 0
	})
	stop()
	if got.Sent != receipt.SentAll || got.Delivered {
		t.Fatalf("receipt: sent %q, delivered %v; want all, false", got.Sent, got.Delivered)
	}
	var stdout, stderr bytes.Buffer
	if code := Main(t.Context(), []string{"receipts", "--state", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	i := strings.Index(stdout.String(), "INC-1")
	if i < 0 {
		t.Fatalf("no receipt for INC-1:\n%s", stdout.String())
	}
	line, _, _ := strings.Cut(stdout.String()[i:], "\n")
	if strings.Contains(line, "\x1b") || !strings.Contains(line, `\x1b[2K\x1b[1A`) {
		t.Errorf("the collector's text is not escaped: %q", line)
	}
	if !strings.Contains(line, " yes ") {
		t.Errorf("the receipt does not say the snapshot left: %q", line)
	}
}
