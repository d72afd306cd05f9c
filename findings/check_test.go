package findings

import (
	"bytes"
	"encoding/json"
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
