package archtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestEveryPackageChecksLeaks: every package with tests runs them under
// goleak (a TestMain calling goleak.VerifyTestMain, or harness.Main), so a goroutine a
// test leaves running fails it, in whichever package it is added.
func TestEveryPackageChecksLeaks(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.Dir}}\t{{range .TestGoFiles}}{{.}} {{end}}{{range .XTestGoFiles}}{{.}} {{end}}", "github.com/sondehq/sonde/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		dir, files, _ := strings.Cut(line, "\t")
		if strings.TrimSpace(files) == "" {
			continue
		}
		checked++
		found := false
		for _, f := range strings.Fields(files) {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			// e2e/harness.Main is a TestMain that builds the binaries and
			// then runs the tests under goleak.VerifyTestMain.
			if strings.Contains(string(b), "goleak.VerifyTestMain(") || strings.Contains(string(b), "harness.Main(") {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s has tests but no TestMain with goleak.VerifyTestMain", dir)
		}
	}
	if checked < 30 {
		t.Fatalf("only %d packages with tests found: the check would prove nothing", checked)
	}
}
