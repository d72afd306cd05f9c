package macos

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sondehq/sonde/agent/config"
)

// scriptEnv is a fake Mac for the installer scripts: a target volume
// (installer's $3; not "/", so the scripts leave launchd alone), a folder
// holding the package, and a launchctl that records its calls.
type scriptEnv struct {
	volume, pkg, calls, bin string
}

func newScriptEnv(t *testing.T) *scriptEnv {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Fatal("no sh here: these tests run the package scripts with sh")
	}
	dir := t.TempDir()
	e := &scriptEnv{volume: filepath.Join(dir, "volume"), pkg: filepath.Join(dir, "dl", "sonde-agent-1.2.3-arm64.pkg"),
		calls: filepath.Join(dir, "launchctl.calls"), bin: filepath.Join(dir, "bin")}
	for _, d := range []string{e.volume, filepath.Dir(e.pkg), e.bin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fake := "#!/bin/sh\necho \"$*\" >>'" + e.calls + "'\n"
	if err := os.WriteFile(filepath.Join(e.bin, "launchctl"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	return e
}

// run runs the packaged script name as installer would, with env added.
func (e *scriptEnv) run(t *testing.T, name string, env ...string) string {
	t.Helper()
	script, err := assets.ReadFile("files/" + name)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(e.bin, name)
	if err := os.WriteFile(path, script, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", path, e.pkg, e.volume, e.volume, "/")
	cmd.Env = append([]string{"PATH=" + e.bin + ":/usr/bin:/bin", "PACKAGE_PATH=" + e.pkg}, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
	if calls, err := os.ReadFile(e.calls); err == nil {
		t.Errorf("%s called launchctl for a volume other than /: %s", name, calls)
	}
	return string(out)
}

func (e *scriptEnv) enrollFile() string {
	return filepath.Join(e.volume, "Library/Application Support/Sonde/enroll.env")
}

func TestPostinstallCopiesEnrollmentFile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("postinstall gives the file to root: run as root (make test does)")
	}
	e := newScriptEnv(t)
	settings := "SONDE_ENROLL_COLLECTOR=collector.example:7443\nSONDE_ENROLL_TOKEN=tok\nSONDE_ENROLL_CA_PIN=sha256:abc\n"
	if err := os.WriteFile(filepath.Join(filepath.Dir(e.pkg), "sonde-enroll.env"), []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	out := e.run(t, "postinstall")
	got, err := os.ReadFile(e.enrollFile())
	if err != nil || string(got) != settings {
		t.Fatalf("enroll.env is %q (%v), want %q; postinstall said %s", got, err, settings, out)
	}
	st, err := os.Stat(e.enrollFile())
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("enroll.env mode %v (%v), want 0600", st.Mode(), err)
	}
	if st, err := os.Stat(filepath.Join(e.volume, "Library/Logs/Sonde")); err != nil || !st.IsDir() {
		t.Errorf("no log folder: %v", err)
	}

	// An upgrade with another file beside it keeps the settings in place
	// (the agent deletes them once enrolled).
	if err := os.WriteFile(filepath.Join(filepath.Dir(e.pkg), "sonde-enroll.env"), []byte("SONDE_ENROLL_TOKEN=other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.run(t, "postinstall")
	if got, _ := os.ReadFile(e.enrollFile()); string(got) != settings {
		t.Errorf("a second install replaced enroll.env with %q", got)
	}
}

func TestPostinstallWritesEnvironment(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("postinstall gives the file to root: run as root (make test does)")
	}
	e := newScriptEnv(t)
	e.run(t, "postinstall", "SONDE_ENROLL_COLLECTOR=c.example:7443", "SONDE_ENROLL_TOKEN=t0k", "SONDE_ENROLL_CA_PIN=sha256:pin")
	b, err := os.ReadFile(e.enrollFile())
	if err != nil {
		t.Fatal(err)
	}
	got, err := config.ParseEnrollment(b)
	if err != nil {
		t.Fatalf("the agent cannot read what postinstall wrote: %v\n%s", err, b)
	}
	if got != (config.Enrollment{Collector: "c.example:7443", Token: "t0k", CAPin: "sha256:pin"}) {
		t.Errorf("postinstall wrote %+v", got)
	}
}

func TestPostinstallWithoutEnrollment(t *testing.T) {
	e := newScriptEnv(t)
	// A symbolic link beside the package is not followed.
	if err := os.Symlink("/etc/passwd", filepath.Join(filepath.Dir(e.pkg), "sonde-enroll.env")); err != nil {
		t.Fatal(err)
	}
	e.run(t, "postinstall")
	if _, err := os.Lstat(e.enrollFile()); !os.IsNotExist(err) {
		t.Errorf("postinstall wrote enroll.env from nothing: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(e.enrollFile()))
	if len(entries) != 0 {
		t.Errorf("postinstall left %v", entries)
	}
}

func TestPreinstall(t *testing.T) {
	e := newScriptEnv(t)
	if out := e.run(t, "preinstall"); out != "" {
		t.Errorf("preinstall said %q", out)
	}
}

// TestScriptsParse checks every script's syntax with sh -n, including the
// uninstall script, which only a Mac can run.
func TestScriptsParse(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Fatal("no sh here: these tests run the package scripts with sh")
	}
	for _, name := range []string{"preinstall", "postinstall", "uninstall.sh"} {
		b, err := assets.ReadFile("files/" + name)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("sh", "-n")
		cmd.Stdin = strings.NewReader(string(b))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", name, err, out)
		}
	}
}
