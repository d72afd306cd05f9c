package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseEnrollment(t *testing.T) {
	e, err := ParseEnrollment([]byte("# written by the installer\r\n\nSONDE_ENROLL_COLLECTOR=sonde.example.com:7443\r\n" +
		"export SONDE_ENROLL_TOKEN=\"tok en\"\nSONDE_ENROLL_CA_PIN='sha256:ab'\nOTHER=1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Enrollment{"sonde.example.com:7443", "tok en", "sha256:ab"}); e != want || !e.Complete() {
		t.Errorf("got %+v, want %+v", e, want)
	}
	for in, msg := range map[string]string{
		"SONDE_ENROLL_COLECTOR=x\n": "unknown setting SONDE_ENROLL_COLECTOR",
		"just words\n":              "line 1: want KEY=VALUE",
		"=x\n":                      "line 1: want KEY=VALUE",
		"SONDE_ENROLL_TOKEN=a\x00b": "control characters",
	} {
		if _, err := ParseEnrollment([]byte(in)); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want %q", in, err, msg)
		}
	}
}

// TestLoadEnrollment: the environment overrides the file; no file and no
// variables is no enrollment and no error; a file too large is refused.
func TestLoadEnrollment(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "enroll.env")
	none := func(string) string { return "" }
	if _, ok, err := LoadEnrollment(path, none); ok || err != nil {
		t.Fatalf("no file: ok %v, %v", ok, err)
	}
	os.WriteFile(path, []byte("SONDE_ENROLL_COLLECTOR=a:1\nSONDE_ENROLL_TOKEN=t\nSONDE_ENROLL_CA_PIN=p\n"), 0o600)
	env := map[string]string{EnvToken: " fresh "}
	e, ok, err := LoadEnrollment(path, func(k string) string { return env[k] })
	if err != nil || !ok || e != (Enrollment{"a:1", "fresh", "p"}) {
		t.Errorf("file and environment: %+v %v %v", e, ok, err)
	}
	e, ok, err = LoadEnrollment(filepath.Join(dir, "none"), func(k string) string { return map[string]string{EnvCollector: "b:2"}[k] })
	if err != nil || !ok || e.Complete() || e.Collector != "b:2" {
		t.Errorf("environment alone, incomplete: %+v %v %v", e, ok, err)
	}
	os.WriteFile(path, []byte(strings.Repeat("#", maxEnrollFile+1)), 0o600)
	if _, _, err := LoadEnrollment(path, none); err == nil || !strings.Contains(err.Error(), "over 8192 bytes") {
		t.Errorf("a file too large: %v", err)
	}
	if got := EnrollPath(); filepath.Base(got) != "enroll.env" || filepath.Dir(got) != filepath.Dir(DefaultPath()) {
		t.Errorf("EnrollPath %s", got)
	}
}

func FuzzParseEnrollment(f *testing.F) {
	f.Add([]byte("SONDE_ENROLL_COLLECTOR=a:1\nexport SONDE_ENROLL_TOKEN='t'\n# c\n"))
	f.Add([]byte("SONDE_ENROLL_CA_PIN=\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEnrollment(b)
		if err != nil {
			return
		}
		for _, v := range []string{e.Collector, e.Token, e.CAPin} {
			if len(v) > len(b) || strings.ContainsAny(v, "\x00\r\n") {
				t.Fatalf("value %q from %q", v, b)
			}
		}
	})
}
