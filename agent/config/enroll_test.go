package config

import (
	"errors"
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

// TestLoadEnrollmentSystem: the installer's store (the Windows registry)
// gives the settings the file and the environment leave blank, and its
// errors are reported.
func TestLoadEnrollmentSystem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "enroll.env")
	os.WriteFile(path, []byte("SONDE_ENROLL_TOKEN=from-file\nSONDE_ENROLL_CA_PIN=\n"), 0o600)
	env := map[string]string{EnvCAPin: "sha256:env"}
	registry := func() (Enrollment, error) { return Enrollment{"reg:7443", "from-registry", "sha256:reg"}, nil }
	e, ok, err := loadEnrollment(path, func(k string) string { return env[k] }, registry)
	if want := (Enrollment{"reg:7443", "from-file", "sha256:env"}); err != nil || !ok || e != want {
		t.Errorf("registry, file and environment: %+v %v %v, want %+v", e, ok, err, want)
	}
	e, ok, err = loadEnrollment(filepath.Join(t.TempDir(), "none"), func(string) string { return "" }, registry)
	if err != nil || !ok || !e.Complete() || e.Token != "from-registry" {
		t.Errorf("registry alone: %+v %v %v", e, ok, err)
	}
	broken := func() (Enrollment, error) { return Enrollment{}, errors.New("access denied") }
	if _, ok, err := loadEnrollment(path, nil, broken); ok || err == nil || !strings.Contains(err.Error(), "installer's enrollment settings: access denied") {
		t.Errorf("a registry that cannot be read: %v %v", ok, err)
	}
}

func TestEnrollmentFromRegistry(t *testing.T) {
	values := map[string]string{RegCollector: " sonde.example.com:7443 ", RegToken: "tok", RegCAPin: "sha256:ab", "Other": "x"}
	get := func(name string) (string, error) { return values[name], nil }
	e, err := enrollmentFromRegistry(get)
	if want := (Enrollment{"sonde.example.com:7443", "tok", "sha256:ab"}); err != nil || e != want {
		t.Errorf("got %+v %v, want %+v", e, err, want)
	}
	delete(values, RegToken)
	if e, err := enrollmentFromRegistry(get); err != nil || e.Token != "" || e.Complete() {
		t.Errorf("a missing value: %+v %v", e, err)
	}
	for value, msg := range map[string]string{
		"a\nb":                                  "control characters in value CAPin",
		strings.Repeat("x", maxRegistryValue+1): "value CAPin is over 1024 bytes",
	} {
		values[RegCAPin] = value
		if _, err := enrollmentFromRegistry(get); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%.20q: %v, want %q", value, err, msg)
		}
	}
	failing := func(name string) (string, error) { return "", errors.New("not a string") }
	if _, err := enrollmentFromRegistry(failing); err == nil || err.Error() != "value Collector: not a string" {
		t.Errorf("a value that cannot be read: %v", err)
	}
}

// TestRemoveEnrollment: the spent file goes; one already gone is no error.
func TestRemoveEnrollment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "enroll.env")
	os.WriteFile(path, []byte("SONDE_ENROLL_TOKEN=t\n"), 0o600)
	if err := RemoveEnrollment(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the file is still there: %v", err)
	}
	if err := RemoveEnrollment(path); err != nil {
		t.Errorf("removing it again: %v", err)
	}
}

func FuzzEnrollmentFromRegistry(f *testing.F) {
	f.Add("sonde.example.com:7443", "tok", "sha256:ab")
	f.Add(" a\r", "", strings.Repeat("p", 1100))
	f.Fuzz(func(t *testing.T, collector, token, pin string) {
		values := map[string]string{RegCollector: collector, RegToken: token, RegCAPin: pin}
		e, err := enrollmentFromRegistry(func(name string) (string, error) { return values[name], nil })
		if err != nil {
			return
		}
		for _, v := range []string{e.Collector, e.Token, e.CAPin} {
			if len(v) > maxRegistryValue || strings.ContainsAny(v, "\x00\r\n") {
				t.Fatalf("value %q", v)
			}
		}
	})
}
