//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// machineBusySeconds is the CPU time the machine has spent busy since
// boot, over all CPUs, from /proc/stat.
func machineBusySeconds() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	busy := 0.0
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseFloat(v, 64)
		busy += n
	}
	return busy / 100 // clock ticks
}

// servicePort returns a free loopback address on a port below the
// ephemeral range, where services listen.
func servicePort(t *testing.T) string {
	t.Helper()
	for p := 20000 + os.Getpid()%5000; p < 32000; p += 7 {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err == nil {
			ln.Close()
			return ln.Addr().String()
		}
	}
	t.Fatal("no free port from 20000 to 32000")
	return ""
}

// fill writes n MiB to path.
func fill(t *testing.T, path string, n int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, make([]byte, n<<20), 0o644); err != nil {
		t.Fatal(err)
	}
}

type ticketFindings struct {
	Findings []struct {
		ID       string          `json:"id"`
		Title    string          `json:"title"`
		Subject  string          `json:"subject"`
		Evidence json.RawMessage `json:"evidence"`
	} `json:"findings"`
}

// TestSymptomToCulprit is issue 20's user, with the real binaries on
// loopback: one machine with a runaway loop (two threads) started as
// `reportgen --job nightly`, a web service on a port, and a memory-backed file system
// (tmpfs) filling up. A bundle goes on ticket T1. Then the web service
// stops and a folder on the tmpfs grows past 95 %, and a bundle goes on
// ticket T2. T1's evidence is what it was; T2's names the command line,
// the program that held the port, the tmpfs mount and the folder that
// grew; `sonde diff` lists no kernel thread.
func TestSymptomToCulprit(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test mounts a tmpfs and needs root (make test runs as root)")
	}
	mnt := "/run/user/64999" // memory-backed mounts the disk probe measures: /run/user/*
	if err := os.MkdirAll(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, "size=64m,mode=0700"); err != nil {
		t.Fatalf("mounting a tmpfs at %s: %v", mnt, err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH); os.Remove(mnt) })
	fill(t, mnt+"/spool/reports/old.dat", 52) // 81 %: a bundle walks it

	addr := servicePort(t)
	web := startHelper(t, "websvc", "listen", []string{"SONDE_E2E_ADDR=" + addr}, "--root", "/srv/www")
	spin := startHelper(t, "reportgen", "spin", nil, "--job", "nightly")
	s := startSonde(t)
	sonde := func(args ...string) string { t.Helper(); return mustRun(t, s.env, "sonde", args...) }
	// The runaway holds a core when the machine lets it: on a machine busy
	// with other work (other tests) it is one process among many, and
	// rightly no finding makes it the culprit. Wait until it is.
	holdsCore := func() bool {
		before, busyBefore := cpuSeconds(spin.Process.Pid), machineBusySeconds()
		time.Sleep(3 * time.Second)
		mine, all := cpuSeconds(spin.Process.Pid)-before, machineBusySeconds()-busyBefore
		return mine >= 2.4 && mine >= 0.7*all
	}
	waitFor(t, "the runaway to hold a core on a quiet machine", 5*time.Minute, holdsCore)

	// A full snapshot while all is well but the runaway, then T1.
	sonde("snapshot", s.agentID)
	sonde("ticket", "open", "--ref", "T1", "--title", "the computer is slow", "--agent", s.agentID)
	sonde("bundle", s.agentID, "--ticket", "T1", "-o", filepath.Join(t.TempDir(), "t1.zip"))
	t1 := sonde("ticket", "show", "T1", "--json")

	// The web service stops; the spool grows until the tmpfs is 98 % full.
	web.Process.Kill()
	web.Wait()
	fill(t, mnt+"/spool/reports/nightly.dat", 11)
	waitFor(t, "the runaway to hold a core on a quiet machine", 5*time.Minute, holdsCore)
	sonde("ticket", "open", "--ref", "T2", "--title", "the intranet page is down and apps crash", "--agent", s.agentID)
	sonde("bundle", s.agentID, "--ticket", "T2", "-o", filepath.Join(t.TempDir(), "t2.zip"))

	var before, after, t2 ticketFindings
	json.Unmarshal([]byte(t1), &before)
	json.Unmarshal([]byte(sonde("ticket", "show", "T1", "--json")), &after)
	json.Unmarshal([]byte(sonde("ticket", "show", "T2", "--json")), &t2)
	if len(before.Findings) == 0 || !slices.EqualFunc(before.Findings, after.Findings, func(a, b struct {
		ID       string          `json:"id"`
		Title    string          `json:"title"`
		Subject  string          `json:"subject"`
		Evidence json.RawMessage `json:"evidence"`
	}) bool {
		return a.ID == b.ID && a.Title == b.Title && string(a.Evidence) == string(b.Evidence)
	}) {
		t.Errorf("T1's evidence changed with the machine:\nbefore %+v\nafter  %+v", before.Findings, after.Findings)
	}
	var text strings.Builder
	for _, f := range t2.Findings {
		fmt.Fprintf(&text, "%s %s %s %s\n", f.ID, f.Subject, f.Title, f.Evidence)
		t.Logf("T2: %s %s", f.ID, f.Title)
	}
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`reportgen --job nightly`),                           // the runaway's command line
		regexp.MustCompile(`network\.listener-stopped .*:` + port + `.*websvc`), // who held the port
		regexp.MustCompile(`disk\.almost-full ` + regexp.QuoteMeta(mnt) + ` .*memory-backed`),
		regexp.MustCompile(`/spool/reports.*grew`), // the folder that grew
	} {
		if !want.MatchString(text.String()) {
			t.Errorf("T2's findings do not match %s:\n%s", want, text.String())
		}
	}
	diff := sonde("diff", s.agentID)
	if k := regexp.MustCompile(`kworker|kthreadd|ksoftirqd|rcu_|migration/`).FindString(diff); k != "" {
		t.Errorf("sonde diff lists the kernel thread %s:\n%s", k, diff)
	}
}
