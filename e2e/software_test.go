package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// canaryPkg is the package TestSoftwareDiff installs and removes.
const canaryPkg = "sonde-canary-pkg"

// TestSoftwareDiff is "what changed since it worked" with the real
// binaries and a real package manager: snapshot the machine's software,
// install a tiny .deb built here, snapshot again, and `sonde diff` puts the
// installed package first; remove it, and the next diff puts its removal
// first. It needs root and dpkg, as CI has.
func TestSoftwareDiff(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("TestSoftwareDiff needs root, to install and remove a package")
	}
	for _, tool := range []string{"dpkg", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("TestSoftwareDiff needs %s", tool)
		}
	}
	deb := buildCanaryDeb(t)
	dpkg(t, "--purge", canaryPkg) // left over from an interrupted run
	t.Cleanup(func() { dpkg(t, "--purge", canaryPkg) })

	s := startSonde(t)
	snapshot := func() int64 {
		t.Helper()
		var snap struct {
			ID int64 `json:"id"`
		}
		// --fresh: the package changed seconds after the last run, which
		// the agent would otherwise answer with.
		out := mustRun(t, s.env, "sonde", "snapshot", s.host, "--probes", "software", "--fresh", "--json")
		if err := json.Unmarshal([]byte(out), &snap); err != nil || snap.ID == 0 {
			t.Fatalf("sonde snapshot: %v\n%.500s", err, out)
		}
		if !strings.Contains(out, `"name": "dpkg"`) {
			t.Fatalf("the software snapshot lists no dpkg source:\n%.2000s", out)
		}
		return snap.ID
	}
	// firstChange runs sonde diff between two snapshots and returns the
	// first section it prints and that section's first change.
	firstChange := func(from, to int64) (string, string) {
		t.Helper()
		out := mustRun(t, s.env, "sonde", "diff", s.host, "--from", strconv.FormatInt(from, 10), "--to", strconv.FormatInt(to, 10))
		lines := strings.Split(out, "\n")
		for i, l := range lines {
			if strings.HasPrefix(l, "  ") && i > 0 {
				return lines[i-1], strings.TrimSpace(l)
			}
		}
		t.Fatalf("sonde diff printed no change:\n%s", out)
		return "", ""
	}

	before := snapshot()
	dpkg(t, "-i", deb)
	installed := snapshot()
	if section, change := firstChange(before, installed); section != "software" || change != "+ "+canaryPkg+" (dpkg): 1.0" {
		t.Errorf("after dpkg -i, sonde diff begins with section %q, change %q", section, change)
	}

	dpkg(t, "-r", canaryPkg)
	removed := snapshot()
	if section, change := firstChange(installed, removed); section != "software" || change != "- "+canaryPkg+" (dpkg): 1.0" {
		t.Errorf("after dpkg -r, sonde diff begins with section %q, change %q", section, change)
	}
}

// buildCanaryDeb builds a package of one file with dpkg-deb and returns
// its path.
func buildCanaryDeb(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, canaryPkg)
	control := "Package: " + canaryPkg + "\nVersion: 1.0\nArchitecture: all\n" +
		"Maintainer: Sonde tests <tests@example.invalid>\n" +
		"Description: canary for the software diff end-to-end test\n Installed and removed by TestSoftwareDiff.\n"
	for path, content := range map[string]string{
		"DEBIAN/control":                         control,
		"usr/share/doc/" + canaryPkg + "/README": "installed by sonde's TestSoftwareDiff\n",
	} {
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	deb := filepath.Join(dir, canaryPkg+".deb")
	if out, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", root, deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v\n%s", err, out)
	}
	return deb
}

// dpkg runs dpkg, waiting out another dpkg holding its lock for up to a
// minute.
func dpkg(t *testing.T, args ...string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := exec.Command("dpkg", args...).CombinedOutput()
		if err == nil {
			return
		}
		if !strings.Contains(string(out), "lock") || time.Now().After(deadline) {
			t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		time.Sleep(time.Second)
	}
}
