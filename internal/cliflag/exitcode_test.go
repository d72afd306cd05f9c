package cliflag

import (
	"bytes"
	"errors"
	"testing"
)

// TestExitCodePrintsSafely: an error that quotes a peer (a collector's
// refusal to enroll, say) cannot drive the terminal; its lines stay lines.
func TestExitCodePrintsSafely(t *testing.T) {
	var stderr bytes.Buffer
	err := errors.New("enrolling: refused: \x1b[2K\x1b[1Aenrolled\nsee the log")
	if code := ExitCode(err, "sonde-agent", "usage", &stderr); code != 1 {
		t.Fatalf("exit %d", code)
	}
	if want := "sonde-agent: enrolling: refused: \\x1b[2K\\x1b[1Aenrolled\nsee the log\n"; stderr.String() != want {
		t.Fatalf("printed %q, want %q", stderr.String(), want)
	}
}
