package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestL1FirstLine is a help-desk agent's call with the real binaries and
// an L1 key alone: a user's machine has a runaway process; L1 opens a
// ticket, attaches a fresh snapshot as evidence, adds what the user said
// and escalates to L2 with a handover. L2 then finds L1's evidence on the
// ticket: the handover package holds the bundle and the note. A second
// call L1 resolves and closes itself, and it counts as a first-contact
// resolution.
func TestL1FirstLine(t *testing.T) {
	s := startSonde(t)
	dir := t.TempDir()
	l1 := []string{"SONDE_URL=" + s.base, "SONDE_TOKEN=" + firstLine(mustRun(t, nil, "sonde-collector", "apikey", "create", "alice", "--role", "l1", "--data", s.data))}
	asL1 := func(args ...string) string { t.Helper(); return mustRun(t, l1, "sonde", args...) }
	asL2 := func(args ...string) string { t.Helper(); return mustRun(t, s.env, "sonde", args...) }

	runaway := exec.Command("sh", "-c", "while :; do :; done")
	if err := runaway.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { runaway.Process.Kill(); runaway.Wait() })
	pid := runaway.Process.Pid

	asL1("ticket", "open", "--ref", "INC-9", "--title", "computer is very slow", "--agent", s.host)
	if out := asL1("ticket", "show", "INC-9"); !strings.Contains(out, "no full snapshot yet — take one") {
		t.Errorf("a machine with health samples only, as L1 sees it:\n%s", out)
	}
	waitFor(t, "the runaway to burn a second of CPU", 30*time.Second, func() bool { return cpuSeconds(pid) >= 1 })
	if out := asL1("bundle", s.host, "--ticket", "INC-9"); !strings.Contains(out, "bundle 1 attached to INC-9") {
		t.Fatalf("L1 attaching evidence: %s", out)
	}
	if _, err := run(t, l1, "sonde", "bundle", "get", "1", "-o", filepath.Join(dir, "x.zip")); err == nil || !strings.Contains(err.Error(), "needs l2") {
		t.Errorf("L1 downloading a bundle: %v", err)
	}
	asL1("ticket", "note", "INC-9", "user: the fan is loud since this morning")
	handover := filepath.Join(dir, "INC-9-handover.txt")
	out := asL1("ticket", "escalate", "INC-9", "--to", "l2", "-o", handover)
	m := regexp.MustCompile(`handover package for L2: bundle (\d+) on INC-9`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("L1's escalation with a handover: %s", out)
	}
	if text, _ := os.ReadFile(handover); !strings.Contains(string(text), "the fan is loud") || !strings.Contains(string(text), "escalated it L1 → L2") {
		t.Errorf("L1's handover file:\n%s", text)
	}

	// L2 sees L1's evidence on the ticket, and downloads it.
	var tv struct {
		Tier    string `json:"tier"`
		Bundles []struct {
			ID        int64  `json:"id"`
			Kind      string `json:"kind"`
			CreatedBy string `json:"created_by"`
			Fresh     bool   `json:"fresh"`
			Download  string `json:"download"`
		} `json:"bundles"`
	}
	json.Unmarshal([]byte(asL2("ticket", "show", "INC-9", "--json")), &tv)
	if tv.Tier != "l2" || len(tv.Bundles) != 2 {
		t.Fatalf("INC-9 as L2: %+v", tv)
	}
	for _, b := range tv.Bundles {
		if b.CreatedBy != "alice" || !b.Fresh || b.Download == "" {
			t.Errorf("L1's bundle as L2 sees it: %+v", b)
		}
	}
	pkg := filepath.Join(dir, "handover.zip")
	asL2("bundle", "get", m[1], "-o", pkg)
	asL2("bundle", "verify", pkg)
	if timeline := zipFile(t, pkg, "timeline.txt"); !strings.Contains(timeline, "the fan is loud") {
		t.Errorf("the handover's timeline lacks L1's note:\n%s", timeline)
	}
	if snap := zipFile(t, pkg, "snapshot.json"); !strings.Contains(snap, `"pid": `+strconv.Itoa(pid)) && !strings.Contains(snap, `"pid":`+strconv.Itoa(pid)) {
		t.Errorf("the handover's snapshot does not list the runaway process %d", pid)
	}
	if out := asL2("ticket", "show", "INC-9"); !strings.Contains(out, "handover") {
		t.Errorf("INC-9 as L2:\n%s", out)
	}

	// First contact: L1 fixes the next call itself.
	asL1("ticket", "open", "--ref", "INC-10", "--title", "cannot print", "--agent", s.host)
	asL1("ticket", "start", "INC-10")
	asL1("ticket", "resolve", "INC-10", "--note", "printer was paused")
	if out := asL1("ticket", "close", "INC-10"); !strings.Contains(out, "closed (tier L1)") {
		t.Errorf("L1 closing its ticket: %s", out)
	}
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "\nsonde_tickets_first_contact_resolution_ratio 1\n") {
		t.Errorf("first-contact resolution after L1 resolved INC-10 (INC-9 escalated, unresolved):\n%s", grepLines(string(body), "first_contact"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// cpuSeconds is the CPU time a process has used, from /proc/PID/stat.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 12th and 13th, in clock ticks (100 a second on Linux).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / 100
}
