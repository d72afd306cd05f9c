package findings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sondehq/sonde/protocol"
)

func TestCheckFine(t *testing.T) {
	doc, _ := loadCase(t, "healthy")
	var b bytes.Buffer
	if err := Check(&b, doc, nil); err != nil {
		t.Fatal(err)
	}
	if b.String() != "Everything looks fine.\n" {
		t.Errorf("got %q", b.String())
	}
}

func TestCheckOrderAndSteps(t *testing.T) {
	doc, _ := loadCase(t, "full-disk-failed-service")
	kb, err := LoadKB("")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Check(&b, doc, kb); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	disk, svc := strings.Index(out, "disk.almost-full"), strings.Index(out, "service.failed")
	if disk < 0 || svc < 0 || disk > svc {
		t.Errorf("want the critical disk finding before the service one:\n%s", out)
	}
	if !strings.Contains(out, "Empty the trash or recycle bin.") {
		t.Errorf("steps missing:\n%s", out)
	}
	// The steps for L2 are not for the person at the keyboard.
	if e, _ := kb.Entry("disk.almost-full"); strings.Contains(out, e.L2Steps[0][:40]) || strings.Contains(out, "sonde ") {
		t.Errorf("sonde-agent check shows L2's steps:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if len(line) > checkWidth {
			t.Errorf("line longer than %d: %q", checkWidth, line)
		}
	}
}

// TestCheckCleans keeps escape sequences from a forged snapshot off the
// user's terminal.
func TestCheckCleans(t *testing.T) {
	data, _ := json.Marshal(map[string]any{"manager": "systemd", "failed_units": []string{"evil\x1b[2J\x1b]0;pwned\x07.service", "bad\u009bname"}})
	doc := &protocol.Document{Probes: []protocol.ProbeJSON{
		{Name: "services", Data: data},
		{Name: "disk\x1b[31m", Error: "x"},
	}}
	var b bytes.Buffer
	if err := Check(&b, doc, nil); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.ContainsAny(out, "\x1b\x07\u009b") {
		t.Errorf("control characters reached the output: %q", out)
	}
	if !strings.Contains(out, `evil\x1b[2J`) || !strings.Contains(out, `disk\x1b[31m`) {
		t.Errorf("names not shown escaped: %q", out)
	}
}

func TestCheckUnknownEntry(t *testing.T) {
	doc, _ := loadCase(t, "full-disk-failed-service")
	var b bytes.Buffer
	if err := Check(&b, doc, &KB{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "Tell your IT support about this.") {
		t.Errorf("got:\n%s", b.String())
	}
	if err := Check(&b, nil, nil); err == nil {
		t.Error("nil document accepted")
	}
}

// TestCheckWording covers the count's wording, an entry without steps and
// the bound on the failed checks named.
func TestCheckWording(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "local.yaml", "- id: system.reboot-pending\n  title: Restart\n  user_explanation: Restart when you can.\n")
	kb, err := LoadKB(dir)
	if err != nil {
		t.Fatal(err)
	}
	doc := &protocol.Document{Probes: []protocol.ProbeJSON{{Name: "system", Data: json.RawMessage(`{"reboot_required": true}`)}}}
	for i := range maxPerAnalyzer + 5 {
		doc.Probes = append(doc.Probes, protocol.ProbeJSON{Name: fmt.Sprintf("p%02d", i), Error: "timeout"})
	}
	var b bytes.Buffer
	if err := Check(&b, doc, kb); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.HasPrefix(out, "Sonde found 1 thing to look at.\n\n1. A restart is needed to finish installing updates (for your information)\n   Restart when you can.\n   Reference for your IT support: system.reboot-pending\n") {
		t.Errorf("got:\n%s", out)
	}
	if strings.Contains(out, "What you can do:") {
		t.Errorf("a heading for no steps:\n%s", out)
	}
	if !strings.Contains(out, "p49.\n") || strings.Contains(out, "p50") {
		t.Errorf("want the first %d failed checks named:\n%s", maxPerAnalyzer, out)
	}
}

func TestWrap(t *testing.T) {
	var b strings.Builder
	long := strings.Repeat("x", checkWidth+4)
	wrap(&b, "1. ", "   ", "a "+long+" b "+strings.Repeat("y", checkWidth-5)+" c")
	// "   b yyy..." is exactly checkWidth long.
	want := "1. a\n   " + long + "\n   b " + strings.Repeat("y", checkWidth-5) + "\n   c\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	wrap(&b, "- ", "  ", "")
	if b.String() != "- \n" {
		t.Errorf("empty text: %q", b.String())
	}
}

type brokenWriter struct{}

func (brokenWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestCheckWriteError: a writer that fails is reported, not ignored.
func TestCheckWriteError(t *testing.T) {
	doc, _ := loadCase(t, "healthy")
	if err := Check(brokenWriter{}, doc, nil); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("error %v", err)
	}
}
