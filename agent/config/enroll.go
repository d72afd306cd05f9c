package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Enrollment is what an installer leaves for the agent's service to
// enroll with on its own: the collector, a token and the CA pin.
type Enrollment struct {
	Collector string
	Token     string
	CAPin     string
}

// The variables of an enrollment, in the process environment or in the
// enrollment file.
const (
	EnvCollector = "SONDE_ENROLL_COLLECTOR"
	EnvToken     = "SONDE_ENROLL_TOKEN"
	EnvCAPin     = "SONDE_ENROLL_CA_PIN"
)

// maxEnrollFile bounds the enrollment file read.
const maxEnrollFile = 8 << 10

// EnrollPath returns where installers leave the enrollment file, beside
// the configuration (see DefaultPath): enroll.env.
func EnrollPath() string { return filepath.Join(filepath.Dir(DefaultPath()), "enroll.env") }

// Complete reports whether e has everything enrolling needs.
func (e Enrollment) Complete() bool { return e.Collector != "" && e.Token != "" && e.CAPin != "" }

// LoadEnrollment reads the enrollment at path (EnrollPath when empty),
// with the SONDE_ENROLL_* variables of getenv (os.Getenv when nil) taking
// precedence over the file's, and the file's over what the platform's
// installer left in its own store (on Windows the MSI's registry values,
// see RegistryKey). A missing file is no error; ok says whether any
// enrollment setting was found at all.
func LoadEnrollment(path string, getenv func(string) string) (e Enrollment, ok bool, err error) {
	return loadEnrollment(path, getenv, systemEnrollment)
}

// loadEnrollment is LoadEnrollment with the platform's store given, so
// that tests on any platform can stand in for it.
func loadEnrollment(path string, getenv func(string) string, system func() (Enrollment, error)) (e Enrollment, ok bool, err error) {
	if e, err = system(); err != nil {
		return Enrollment{}, false, fmt.Errorf("reading the installer's enrollment settings: %w", err)
	}
	if path == "" {
		path = EnrollPath()
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	f, err := os.Open(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return e, false, fmt.Errorf("reading the enrollment file: %w", err)
	default:
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxEnrollFile+1))
		if err != nil {
			return e, false, fmt.Errorf("reading the enrollment file %s: %w", path, err)
		}
		if len(b) > maxEnrollFile {
			return e, false, fmt.Errorf("the enrollment file %s is over %d bytes", path, maxEnrollFile)
		}
		fe, err := ParseEnrollment(b)
		if err != nil {
			return e, false, fmt.Errorf("the enrollment file %s: %w", path, err)
		}
		e = e.with(fe)
	}
	e = e.with(Enrollment{Collector: getenv(EnvCollector), Token: getenv(EnvToken), CAPin: getenv(EnvCAPin)})
	return e, e != (Enrollment{}), nil
}

// with returns e with the settings that o has (not blank) taking their
// place.
func (e Enrollment) with(o Enrollment) Enrollment {
	set := func(dst *string, src string) {
		if src = strings.TrimSpace(src); src != "" {
			*dst = src
		}
	}
	set(&e.Collector, o.Collector)
	set(&e.Token, o.Token)
	set(&e.CAPin, o.CAPin)
	return e
}

// RemoveEnrollment removes a spent enrollment: the file at path
// (EnrollPath when empty) and what the installer left in the platform's
// store. What is already gone is no error.
func RemoveEnrollment(path string) error {
	if path == "" {
		path = EnrollPath()
	}
	var errs []error
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("removing the enrollment file: %w", err))
	}
	if err := removeSystemEnrollment(); err != nil {
		errs = append(errs, fmt.Errorf("removing the installer's enrollment settings: %w", err))
	}
	return errors.Join(errs...)
}

// ParseEnrollment reads KEY=VALUE lines, as a systemd EnvironmentFile or
// a shell would: blank lines and # comments are skipped, a value may be
// quoted with ' or ", and "export " before a key is allowed. Unknown
// SONDE_ENROLL_ keys are refused (a typo would enroll nothing); other
// keys are left alone.
func ParseEnrollment(b []byte) (Enrollment, error) {
	var e Enrollment
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 1024), maxEnrollFile)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, found := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		key = strings.TrimSpace(key)
		if !found || key == "" {
			return e, fmt.Errorf("line %d: want KEY=VALUE", n)
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		if strings.ContainsAny(value, "\x00\r\n") {
			return e, fmt.Errorf("line %d: control characters in the value of %s", n, key)
		}
		switch key {
		case EnvCollector:
			e.Collector = value
		case EnvToken:
			e.Token = value
		case EnvCAPin:
			e.CAPin = value
		default:
			if strings.HasPrefix(key, "SONDE_ENROLL_") {
				return e, fmt.Errorf("line %d: unknown setting %s (%s, %s or %s)", n, clip(key), EnvCollector, EnvToken, EnvCAPin)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return e, fmt.Errorf("reading it: %w", err)
	}
	return e, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
